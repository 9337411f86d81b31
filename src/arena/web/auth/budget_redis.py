"""The generation budget shared by every process, in Redis (ARENA_REDIS_URL).

Each process holds its units under a key of its own with a lease (LEASE_S) that a heartbeat
renews: a process killed with -9 frees its units once the lease runs out. Every claim, wait
and release is one Lua script (`budget_redis_lua.py`), atomic across processes; the queue's
order lives in Redis too, and waiters poll their ticket every POLL_S (at once when this process
gives units back). Redis unreachable: `SharedStateUnavailable` (503), never an unlimited pass.
A release that could not reach Redis is retried by the heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

import redis.asyncio as aioredis

from arena.errors import SharedStateUnavailable
from arena.storage.shared_state import shared_state_errors
from arena.web.auth import budget_redis_lua as lua
from arena.web.auth.budget_base import GenerationBudget, Place, changed_or_timeout
from arena.web.auth.budget_queue import LANES, Lane

logger = logging.getLogger(__name__)

PREFIX: Final = "arena:budget:"
LEASE_S: Final = 15.0  # a dead process's units come back within this
POLL_S: Final = 0.25  # a waiter looks at its ticket this often
TICKET_TTL_S: Final = 10.0  # a ticket nobody polled for this long is a ghost and is dropped


@dataclass
class RedisTicket:
    """A waiting request: its ticket's name in Redis, and what it asked for (to give back a grant
    that nobody came for)."""

    name: str
    key: str
    units: int


class RedisBudget(GenerationBudget):
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        per_user: int,
        total: int,
        queue_timeout_s: float,
        prefix: str = PREFIX,
        lease_s: float = LEASE_S,
        ticket_ttl_s: float = TICKET_TTL_S,
    ) -> None:
        super().__init__(per_user=per_user, total=total, queue_timeout_s=queue_timeout_s)
        self._redis = redis
        self._prefix = prefix
        self._lease_ms, self._ticket_ttl_ms = int(lease_s * 1000), int(ticket_ttl_s * 1000)
        self.process_id = uuid.uuid4().hex  # this process's (this budget's) own key
        self._scripts = {
            name: redis.register_script(getattr(lua, name.upper()))
            for name in ("enter", "turn", "leave", "release", "usage")
        }
        self._owed: list[tuple[str, int]] = []  # releases Redis did not take yet
        self._tasks: set[asyncio.Task[None]] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def _run(self, name: str, *args: object) -> Any:
        limits = (self.total, self.per_user, self._lease_ms, self._ticket_ttl_ms)
        async with shared_state_errors():
            return await self._scripts[name](keys=[self._prefix], args=[*limits, *args])

    async def usage(self, key: str) -> tuple[int, int]:
        mine, everyone = await self._run("usage", key)
        return int(mine), int(everyone)

    async def _enter(self, key: str, units: int, lane: Lane) -> Place | int:
        self._keep_alive()
        ticket = RedisTicket(name="", key=key, units=units)
        result = await self._to_the_end(ticket, "enter", key, units, LANES[lane], self.process_id)
        status, ahead = result[0], int(result[1])
        if status == "over":
            return ahead
        ticket.name = result[2]
        return Place(ticket=ticket, granted=status == "granted", ahead=ahead)

    async def _turn(self, ticket: object, *, timeout: float) -> Place:
        assert isinstance(ticket, RedisTicket)
        changed = self._changed
        await changed_or_timeout(changed, min(timeout, POLL_S))
        status, ahead = await self._to_the_end(ticket, "turn", ticket.name)
        if status == "gone":  # dropped as a ghost: this process stalled past TICKET_TTL_S
            raise SharedStateUnavailable("this request's place in the queue was lost; try again")
        return Place(ticket=ticket, granted=status == "granted", ahead=int(ahead))

    async def _leave(self, ticket: object) -> bool:
        assert isinstance(ticket, RedisTicket)
        try:
            return (await self._to_the_end(ticket, "leave", ticket.name)) == 1
        except SharedStateUnavailable:
            # Nobody polls the ticket again: within TICKET_TTL_S it is dropped, or its grant given back.
            return False

    async def _to_the_end(self, ticket: RedisTicket, name: str, *args: object) -> Any:
        """Run a script that may grant `ticket` its units. A caller cancelled meanwhile (a client
        that left) does not cut it short: Redis may have granted them, so they are given back."""
        call = asyncio.ensure_future(self._run(name, *args))
        try:
            return await asyncio.shield(call)
        except asyncio.CancelledError:
            call.add_done_callback(partial(self._unclaimed, ticket))
            raise

    def _unclaimed(self, ticket: RedisTicket, call: asyncio.Future[Any]) -> None:
        if call.cancelled() or call.exception() is not None:
            return
        result = call.result()
        # Granted (entered, turned or left just then); a ticket left waiting is dropped unpolled.
        if result == 1 or (isinstance(result, list) and result[0] == "granted"):
            self._give_back(ticket.key, ticket.units)

    def _give_back(self, key: str, units: int) -> None:
        task = asyncio.get_running_loop().create_task(self._release(key, units))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _release(self, key: str, units: int) -> None:
        try:
            await self._run("release", self.process_id, key, units)
        except Exception:  # kept, and tried again by the heartbeat
            self._owed.append((key, units))
            logger.warning("could not give %d generation unit(s) back to Redis; retrying", units)
        self._wake()

    def _wake(self) -> None:
        """This process's waiters look at once (others' waiters within POLL_S)."""
        self._changed.set()
        self._changed = asyncio.Event()

    def _keep_alive(self) -> None:
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.get_running_loop().create_task(self._beat(), name="generation budget lease")

    async def _beat(self) -> None:
        """Renew this process's lease; retry the releases Redis missed."""
        while True:
            await asyncio.sleep(self._lease_ms / 3000)  # three beats to a lease
            try:
                owed, self._owed = self._owed, []
                for key, units in owed:
                    await self._release(key, units)
                async with shared_state_errors():
                    await self._redis.pexpire(f"{self._prefix}held:{self.process_id}", self._lease_ms)
            except Exception:  # the next beat tries again; claims fail closed meanwhile
                logger.warning("could not renew the generation budget's lease in Redis", exc_info=True)

    async def aclose(self) -> None:
        """Stop the heartbeat and give back at once what this process still holds."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._redis.delete(f"{self._prefix}held:{self.process_id}")
