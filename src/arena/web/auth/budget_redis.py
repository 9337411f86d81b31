"""The generation budget shared by every process, in Redis (ARENA_REDIS_URL).

Each process holds its units under a key of its own with a lease (LEASE_S): a process killed
with -9 frees its units once the lease runs out. Every claim, wait and release is one Lua
script (`budget_redis_lua.py`), atomic across processes; the queue's order lives in Redis too,
and waiters poll their ticket every POLL_S (at once when this process gives units back). Redis
unreachable: `SharedStateUnavailable` (503), never an unlimited pass.

The process also counts what it holds itself (`_held`, per caller), and its heartbeat (every
HEARTBEAT_S) writes that whole count back to its key, not just renewing the lease: after a
restart of a Redis without persistence the units still running count again within one beat,
and a release (or a grant nobody came for) that Redis missed is set right by the next beat.

Every process announces itself (and its own ARENA_MAX_GENERATIONS / ARENA_MAX_STREAMS_PER_USER)
at start-up and with each beat; the budget's limits are the smallest of every live process's,
so one process set higher never grants what the others hold back. A process whose own settings
differ says so loudly (`LIMITS_DIFFER`) and uses the shared ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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
HEARTBEAT_S: Final = 1.0  # what a restarted Redis forgot counts again within this (at most LEASE_S / 3)
POLL_S: Final = 0.25  # a waiter looks at its ticket this often
TICKET_TTL_S: Final = 10.0  # a ticket nobody polled for this long is a ghost and is dropped
LIMITS_DIFFER: Final = (
    "THE SERVER PROCESSES SHARING THIS REDIS HAVE DIFFERENT GENERATION LIMITS: this one has "
    "ARENA_MAX_GENERATIONS=%d and ARENA_MAX_STREAMS_PER_USER=%d, the smallest of all live processes are %d and %d. "
    "Every process now uses %d and %d; give every process the same settings."
)


@dataclass
class RedisTicket:
    """A waiting request: its ticket's name in Redis, and what it asked for (to give back a grant
    that nobody came for)."""

    name: str
    key: str
    units: int


class Gate:
    """Budget calls run side by side, the heartbeat's rewrite alone: the count it writes must
    include every call's effect, in Redis and in `_held` alike, or none of it. (No awaits in the
    `finally`s: a cancelled caller never leaves the gate shut.)"""

    def __init__(self) -> None:
        self._calls = self._rewrites = 0
        self._open = asyncio.Event()  # cleared while the heartbeat rewrites
        self._open.set()
        self._idle = asyncio.Event()  # set while no call is under way
        self._idle.set()

    @asynccontextmanager
    async def call(self) -> AsyncIterator[None]:
        while not self._open.is_set():
            await self._open.wait()
        self._calls += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._calls -= 1
            if self._calls == 0:
                self._idle.set()

    @asynccontextmanager
    async def alone(self) -> AsyncIterator[None]:
        self._rewrites += 1  # two at once are harmless to each other: the gate opens after both
        self._open.clear()
        try:
            while self._calls:
                await self._idle.wait()
            yield
        finally:
            self._rewrites -= 1
            if not self._rewrites:
                self._open.set()


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
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        super().__init__(per_user=per_user, total=total, queue_timeout_s=queue_timeout_s)
        self._own = (total, per_user)  # this process's settings; `total`/`per_user` become the shared ones
        self._warned: tuple[int, int] | None = None
        self._redis = redis
        self._prefix = prefix
        self._lease_ms, self._ticket_ttl_ms = int(lease_s * 1000), int(ticket_ttl_s * 1000)
        self._beat_s = min(heartbeat_s, lease_s / 3)  # at least three beats to a lease
        self.process_id = uuid.uuid4().hex  # this process's (this budget's) own key
        self._scripts = {
            name: redis.register_script(getattr(lua, name.upper()))
            for name in ("enter", "turn", "leave", "release", "usage", "renew")
        }
        self._held: Counter[str] = Counter()  # units this process's callers hold, per caller
        self._waiting: set[str] = set()  # this process's tickets still in the queue (for the gauge)
        self._gate = Gate()
        self._tasks: set[asyncio.Task[None]] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        self._closing = False
        self._changed = asyncio.Event()

    async def _run(self, name: str, *args: object) -> Any:
        limits = (*self._own, self._lease_ms, self._ticket_ttl_ms)
        async with shared_state_errors():
            return await self._scripts[name](keys=[self._prefix], args=[*limits, *args])

    @property
    def in_use(self) -> int:
        return sum(self._held.values())

    def queued(self) -> int:
        return len(self._waiting)

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
        if status != "granted":
            self._waiting.add(ticket.name)
        return Place(ticket=ticket, granted=status == "granted", ahead=ahead)

    async def _turn(self, ticket: object, *, timeout: float) -> Place:
        assert isinstance(ticket, RedisTicket)
        changed = self._changed
        await changed_or_timeout(changed, min(timeout, POLL_S))
        status, ahead = await self._to_the_end(ticket, "turn", ticket.name)
        if status != "waiting":
            self._waiting.discard(ticket.name)
        if status == "gone":  # dropped as a ghost: this process stalled past TICKET_TTL_S
            raise SharedStateUnavailable("this request's place in the queue was lost; try again")
        return Place(ticket=ticket, granted=status == "granted", ahead=int(ahead))

    async def _leave(self, ticket: object) -> bool:
        assert isinstance(ticket, RedisTicket)
        self._waiting.discard(ticket.name)
        try:
            return (await self._to_the_end(ticket, "leave", ticket.name)) == 1
        except SharedStateUnavailable:
            # Nobody polls the ticket again: within TICKET_TTL_S it is dropped, or its grant given back.
            return False

    async def _to_the_end(self, ticket: RedisTicket, name: str, *args: object) -> Any:
        """Run a script that may grant `ticket` its units. A caller cancelled meanwhile (a client
        that left) does not cut it short: Redis may have granted them, so they are given back."""
        call = asyncio.ensure_future(self._granting(ticket, name, *args))
        try:
            return await asyncio.shield(call)
        except asyncio.CancelledError:
            call.add_done_callback(partial(self._unclaimed, ticket))
            raise

    async def _granting(self, ticket: RedisTicket, name: str, *args: object) -> Any:
        async with self._gate.call():
            result = await self._run(name, *args)
            if _granted(result):  # counted here, in step with Redis; whoever gets it gives it back
                self._held[ticket.key] += ticket.units
            return result

    def _unclaimed(self, ticket: RedisTicket, call: asyncio.Future[Any]) -> None:
        # Granted (entered, turned or left just then); a ticket left waiting is dropped unpolled.
        if not call.cancelled() and call.exception() is None and _granted(call.result()):
            self._give_back(ticket.key, ticket.units)

    def _give_back(self, key: str, units: int) -> None:
        task = asyncio.get_running_loop().create_task(self._release(key, units))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _release(self, key: str, units: int) -> None:
        async with self._gate.call():
            self._held[key] -= units  # free either way: a release Redis missed, the next beat sets right
            if self._held[key] <= 0:
                del self._held[key]
            try:
                await self._run("release", self.process_id, key, units)
            except Exception:
                logger.warning("could not give %d generation unit(s) back to Redis; the heartbeat will", units)
        self._wake()

    def _wake(self) -> None:
        """This process's waiters look at once (others' waiters within POLL_S)."""
        self._changed.set()
        self._changed = asyncio.Event()

    def _keep_alive(self) -> None:
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.get_running_loop().create_task(self._beat(), name="generation budget lease")

    async def _beat(self) -> None:
        """Write what this process holds back to its key (a restarted Redis forgot it) and renew
        its lease; its own grants not yet come for are added in Redis (`RENEW`)."""
        failing = False
        while not self._closing:  # not only cancel(): redis-py can swallow one that comes mid-command
            await asyncio.sleep(self._beat_s)
            try:
                await self.renew()
            except Exception:  # the next beat tries again; claims fail closed meanwhile
                if not failing:
                    logger.warning("could not write the generation budget's count to Redis", exc_info=True)
                failing = True
            else:
                if failing:
                    logger.warning("the generation budget's count is back in Redis")
                failing = False

    async def start(self) -> None:
        """At start-up: announce this process (and its limits) and learn the shared limits now,
        not at the first request; then keep the lease."""
        await self.renew()
        self._keep_alive()

    async def renew(self) -> None:
        """One heartbeat: this process's whole count, rewritten in Redis; the shared limits learnt."""
        async with self._gate.alone():
            shared = await self._run("renew", self.process_id, *(x for item in self._held.items() for x in item))
        self._adopt(int(shared[0]), int(shared[1]))

    def _adopt(self, total: int, per_user: int) -> None:
        self.total, self.per_user = total, per_user
        if (total, per_user) != self._own and (total, per_user) != self._warned:
            self._warned = (total, per_user)
            logger.warning(LIMITS_DIFFER, *self._own, total, per_user, total, per_user)

    async def aclose(self) -> None:
        """Stop the heartbeat and give back at once what this process still holds."""
        self._closing = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):  # and leave at once: its limits stop applying to the others now
            async with self._redis.pipeline(transaction=True) as gone:
                gone.delete(f"{self._prefix}held:{self.process_id}")
                gone.zrem(f"{self._prefix}alive", self.process_id)
                gone.hdel(f"{self._prefix}limits", self.process_id)
                gone.srem(f"{self._prefix}procs", self.process_id)
                await gone.execute()


def _granted(result: Any) -> bool:
    """A script's answer says the ticket's units were granted (`LEAVE`'s 1, or "granted")."""
    return result == 1 or (isinstance(result, list) and result[0] == "granted")
