"""The generation budget's interface (`GenerationBudget`, with a backend in memory or in Redis),
the waiting built on it once (`Claim`: positions, timeout, a client that leaves), and `Units`
(what a caller holds). `budget.py` says what the budget is; `budget_queue.py` the queue's order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

from fastapi import HTTPException

from arena.errors import InvalidInput, ServerBusy
from arena.web.auth.budget_queue import Lane
from arena.web.auth.limits import too_many_requests

# A client over its stream cap may retry soon: a stream can end at any moment.
STREAM_RETRY_AFTER_S: Final = 1
# A waiting request hears its place at least this often, so no proxy or client idles it out.
KEEPALIVE_S: Final = 3.0
# Nginx's name for a request whose client closed the connection first (nobody reads the answer).
CLIENT_CLOSED: Final = 499


@dataclass(frozen=True)
class Place:
    """A request's place: `granted` (its units are held), or `ahead` requests go before it."""

    ticket: object
    granted: bool
    ahead: int = 0


class Units:
    """Generation units one caller holds. Give them back one by one as instances finish
    (`release(1)`), or all that are left (`release()`, safe to repeat); as an (async) context
    manager it gives back what is left on exit."""

    def __init__(self, budget: GenerationBudget, key: str, count: int) -> None:
        self._budget = budget
        self._key = key
        self.held = count

    def release(self, count: int | None = None) -> None:
        count = self.held if count is None else min(count, self.held)
        if count > 0:
            self.held -= count
            self._budget._give_back(self._key, count)

    def __enter__(self) -> Units:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()

    async def __aenter__(self) -> Units:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.release()


class Claim:
    """An interactive request's claim: its units at once (`units`), or a place in the queue
    until `positions()` or `granted()` gets them. `close()` however the request ends."""

    def __init__(self, budget: GenerationBudget, key: str, count: int, place: Place) -> None:
        self._budget, self._key, self._count = budget, key, count
        self._ticket: object | None = None if place.granted else place.ticket
        self._ahead = place.ahead
        self.units: Units | None = Units(budget, key, count) if place.granted else None
        self._deadline = time.monotonic() + budget.queue_timeout_s

    async def positions(self) -> AsyncIterator[int]:
        """Requests ahead of this one: at once, when the number changes and every KEEPALIVE_S.
        Ends once the units are held; past ARENA_QUEUE_TIMEOUT_S leaves the queue, `ServerBusy`."""
        shown, shown_at = None, 0.0
        while self.units is None and self._ticket is not None:  # not closed meanwhile by another task
            now = time.monotonic()
            if self._ahead != shown or now - shown_at >= KEEPALIVE_S:
                shown, shown_at = self._ahead, now
                yield self._ahead
            if time.monotonic() >= self._deadline:
                await self.close()
                raise self._busy()
            wake_by = min(self._deadline, shown_at + KEEPALIVE_S) - time.monotonic()
            place = await self._budget._turn(self._ticket, timeout=max(wake_by, 0.0))
            if place.granted:
                self._ticket, self.units = None, Units(self._budget, self._key, self._count)
            else:
                self._ahead = place.ahead

    async def granted(self, *, client_gone: Callable[[], Awaitable[None]] | None = None) -> Units:
        """Wait for the units (no lines to send); a client that leaves meanwhile leaves the queue."""
        if self.units is not None:
            return self.units
        waiting = asyncio.ensure_future(self._drain())
        watcher = asyncio.ensure_future(client_gone()) if client_gone is not None else None
        try:
            await asyncio.wait({waiting, watcher} - {None}, return_when=asyncio.FIRST_COMPLETED)
            if waiting.done():
                await waiting  # ServerBusy, SharedStateUnavailable
                assert self.units is not None
                return self.units
            raise HTTPException(CLIENT_CLOSED, "the client left while its request waited for a free slot")
        finally:
            for task in (waiting, watcher):
                if task is not None:
                    task.cancel()
            await asyncio.gather(*(t for t in (waiting, watcher) if t is not None), return_exceptions=True)
            if self.units is None:
                await self.close()

    async def _drain(self) -> None:
        async for _ in self.positions():
            pass

    async def close(self) -> None:
        """Leave the queue if still waiting, else give back what is still held; safe to repeat."""
        ticket, self._ticket = self._ticket, None
        if ticket is not None and self.units is None:
            if await self._budget._leave(ticket):  # granted just as it left: the units go straight back
                self._budget._give_back(self._key, self._count)
        elif self.units is not None:
            self.units.release()

    def _busy(self) -> ServerBusy:
        budget = self._budget
        return ServerBusy(
            f"The server is busy: it runs at most {budget.total} generations at once (ARENA_MAX_GENERATIONS, "
            "by default MAX_CONCURRENT_REQUESTS × ARENA_MAX_INSTANCES), and none came free within "
            f"{budget.queue_timeout_s:g} s (ARENA_QUEUE_TIMEOUT_S); try again shortly"
        )


async def changed_or_timeout(changed: asyncio.Event, timeout: float) -> None:
    """Until `changed` is set or `timeout` passes. (Not `wait_for`: on 3.11 it can swallow a
    cancel that comes as the event is set, and a client that left would wait on.)"""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await changed.wait()


class GenerationBudget(ABC):
    """Instance generations in progress, per caller and in all, and the queue of those waiting.

    A backend implements the five primitives below; `request`, `claim` and `wait` are built on
    them once. Interactive requests `request`/`claim` (429 past the caller's cap, a wait in the
    queue past the total); background work `wait`s in its own lane, behind every interactive one.
    """

    def __init__(self, *, per_user: int, total: int, queue_timeout_s: float) -> None:
        self.per_user = per_user
        self.total = total
        self.queue_timeout_s = queue_timeout_s

    # -- what a backend provides ---------------------------------------------------------------

    @abstractmethod
    async def _enter(self, key: str, units: int, lane: Lane) -> Place | int:
        """Join the queue (and take the units at once if this request is next and they are free).
        For an interactive request over the caller's cap: nothing joins; returns what the caller
        runs and has waiting (an int), for the 429."""

    @abstractmethod
    async def _turn(self, ticket: object, *, timeout: float) -> Place:
        """The ticket's place, once it changed or after `timeout` seconds (whichever is first)."""

    @abstractmethod
    async def _leave(self, ticket: object) -> bool:
        """Take the ticket out of the queue; True when it had been granted meanwhile (the caller
        then gives its units back)."""

    @abstractmethod
    def _give_back(self, key: str, units: int) -> None:
        """Units come back (never awaits: called from `finally` blocks and sync code)."""

    @property
    @abstractmethod
    def in_use(self) -> int:
        """Units this process's requests hold now (for the gauges: each process its own)."""

    @abstractmethod
    def queued(self) -> int:
        """This process's requests waiting for units now."""

    @abstractmethod
    async def usage(self, key: str) -> tuple[int, int]:
        """(units `key` holds, units held in all): for tests and diagnostics."""

    # -- built on them --------------------------------------------------------------------------

    async def request(self, key: str, units: int) -> Claim:
        """An interactive request for `units`: 400 if it could never fit, 429 past the caller's
        cap, both at once; otherwise a `Claim` holding the units or a place in the queue."""
        self._check_size(units)
        place = await self._enter(key, units, "interactive")
        if isinstance(place, int):
            raise too_many_requests(
                f"Too many generations at once: the limit is {self.per_user} per user "
                f"(ARENA_MAX_STREAMS_PER_USER); {place} of yours are running or waiting and this "
                f"request needs {units}; wait for one to finish",
                retry_after=STREAM_RETRY_AFTER_S,
                bucket="streams",
            )
        if not place.granted and self.queue_timeout_s <= 0:  # no queue: refused at once
            claim = Claim(self, key, units, place)
            await claim.close()
            raise claim._busy()
        return Claim(self, key, units, place)

    async def claim(self, key: str, units: int, *, client_gone: Callable[[], Awaitable[None]] | None = None) -> Units:
        """`request`, then wait for the units in the queue (503 `ServerBusy` when the wait runs out)."""
        return await (await self.request(key, units)).granted(client_gone=client_gone)

    @asynccontextmanager
    async def wait(self, key: str, units: int = 1) -> AsyncIterator[Units]:
        """Background work: wait (without bound) for room under the caller's cap and the total,
        behind every waiting interactive request; hold the units for the block."""
        self._check_size(units)
        place = await self._enter(key, units, "background")
        assert isinstance(place, Place)
        try:
            while not place.granted:
                place = await self._turn(place.ticket, timeout=KEEPALIVE_S)
        except BaseException:
            if await asyncio.shield(self._leave(place.ticket)):
                self._give_back(key, units)
            raise
        with Units(self, key, units) as held:
            yield held

    def _check_size(self, units: int) -> None:
        """A request that could never fit is the request's error, not a reason to retry."""
        if units > self.per_user:
            raise InvalidInput(
                f"this request runs {units} generations at once; one user may run at most "
                f"{self.per_user} (ARENA_MAX_STREAMS_PER_USER)"
            )
        if units > self.total:
            raise InvalidInput(
                f"this request runs {units} generations at once; the server runs at most "
                f"{self.total} (ARENA_MAX_GENERATIONS)"
            )
