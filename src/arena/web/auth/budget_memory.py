"""The generation budget of one process, in memory (no ARENA_REDIS_URL).

Used on the event loop only, so no lock: no await lies between a test and its take.
"""

from __future__ import annotations

import asyncio

from arena.web.auth.budget_base import GenerationBudget, Place, changed_or_timeout
from arena.web.auth.budget_queue import LANES, FairQueue, Lane, Ticket


class MemoryBudget(GenerationBudget):
    def __init__(self, *, per_user: int, total: int, queue_timeout_s: float) -> None:
        super().__init__(per_user=per_user, total=total, queue_timeout_s=queue_timeout_s)
        self._running: dict[str, int] = {}
        self._in_use = 0
        self._queue = FairQueue()
        self._granted: set[int] = set()  # ids of tickets served but not yet seen by their waiter
        self._told: dict[int, int] = {}  # id of a waiting ticket -> the place its waiter last heard
        self._changed = asyncio.Event()

    def running(self, key: str) -> int:
        return self._running.get(key, 0)

    @property
    def in_use(self) -> int:
        return self._in_use

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def queued(self) -> int:
        return len(self._queue)

    async def usage(self, key: str) -> tuple[int, int]:
        return self.running(key), self._in_use

    async def _enter(self, key: str, units: int, lane: Lane) -> Place | int:
        if lane == "interactive":
            mine = self.running(key) + self._queue.reserved(key)
            if mine + units > self.per_user:
                return mine
        ticket = self._queue.add(key, units, lane)
        self._serve()
        return self._place(ticket)

    async def _turn(self, ticket: object, *, timeout: float) -> Place:
        assert isinstance(ticket, Ticket)
        changed = self._changed
        # A change between the place its waiter heard and this wait (a request ahead left meanwhile)
        # is not waited for: its event has been set and replaced already.
        if ticket in self._queue and self._queue.ahead(ticket) == self._told.get(id(ticket)):
            await changed_or_timeout(changed, timeout)
        return self._place(ticket)

    async def _leave(self, ticket: object) -> bool:
        assert isinstance(ticket, Ticket)
        self._told.pop(id(ticket), None)
        if id(ticket) in self._granted:
            self._granted.discard(id(ticket))
            return True
        if ticket in self._queue:
            self._queue.remove(ticket, served=False)
            self._serve()  # the ones behind it may fit now
        return False

    def _give_back(self, key: str, units: int) -> None:
        left = self.running(key) - units
        if left > 0:
            self._running[key] = left
        else:
            self._running.pop(key, None)  # no entry left behind per caller ever seen
        self._in_use -= units
        self._serve()

    def _place(self, ticket: Ticket) -> Place:
        if id(ticket) in self._granted:
            self._granted.discard(id(ticket))
            self._told.pop(id(ticket), None)
            return Place(ticket=ticket, granted=True)
        ahead = self._told[id(ticket)] = self._queue.ahead(ticket)
        return Place(ticket=ticket, granted=False, ahead=ahead)

    def _serve(self) -> None:
        """Grant waiting tickets in order while units are free. Interactive ones strictly in
        turn (a large comparison is not passed over for ever by small ones); background work
        only once no interactive request waits, skipping a user at their own cap."""
        for ticket in self._queue:
            if ticket.lane == LANES["interactive"]:
                if self._in_use + ticket.units > self.total:
                    break
            elif self.running(ticket.key) + self._queue.reserved(ticket.key) + ticket.units > self.per_user:
                continue
            elif self._in_use + ticket.units > self.total:
                break
            self._queue.remove(ticket, served=True)
            self._running[ticket.key] = self.running(ticket.key) + ticket.units
            self._in_use += ticket.units
            self._granted.add(id(ticket))
        # Every waiter looks again: its place moved, or its units came.
        self._changed.set()
        self._changed = asyncio.Event()
