"""The fair order of requests waiting for generation units (in one process; `budget_redis.py`
keeps the same order in Redis, in Lua).

Two lanes: interactive requests, then background work (benchmarks), which goes only when no
interactive request waits. Within a lane, round-robin by user and first come, first served
within a user: a user's n-th waiting request is in round n (counted from the round being
served), and requests go by (lane, round, arrival). User A queueing 5 requests and then B one
puts B's in round 1 beside A's first: B goes second, not sixth.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final, Literal

Lane = Literal["interactive", "background"]
LANES: Final[dict[Lane, int]] = {"interactive": 0, "background": 1}


@dataclass(order=True)
class Ticket:
    """One waiting request; tickets sort in the order they are served."""

    lane: int
    round: int
    seq: int
    key: str = field(compare=False)
    units: int = field(compare=False)


class FairQueue:
    def __init__(self) -> None:
        self._tickets: list[Ticket] = []  # sorted: the next to serve first
        self._served_round = dict.fromkeys(LANES.values(), 0)
        self._last_round: dict[tuple[int, str], int] = {}  # (lane, key) -> its last waiting ticket's round
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._tickets)

    def __iter__(self) -> Iterator[Ticket]:  # over a snapshot: serving removes tickets
        return iter(list(self._tickets))

    def add(self, key: str, units: int, lane: Lane) -> Ticket:
        number = LANES[lane]
        start = max(self._served_round[number], self._last_round.get((number, key), 0))
        ticket = Ticket(lane=number, round=start + 1, seq=next(self._seq), key=key, units=units)
        self._last_round[(number, key)] = ticket.round
        bisect.insort(self._tickets, ticket)
        return ticket

    def ahead(self, ticket: Ticket) -> int:
        """How many requests will be served before this one."""
        return bisect.bisect_left(self._tickets, ticket)

    def __contains__(self, ticket: Ticket) -> bool:
        at = bisect.bisect_left(self._tickets, ticket)
        return at < len(self._tickets) and self._tickets[at] is ticket

    def remove(self, ticket: Ticket, *, served: bool) -> None:
        self._tickets.remove(ticket)
        if served:
            self._served_round[ticket.lane] = max(self._served_round[ticket.lane], ticket.round)
        if not any(t.key == ticket.key and t.lane == ticket.lane for t in self._tickets):
            self._last_round.pop((ticket.lane, ticket.key), None)  # nothing left behind per user

    def reserved(self, key: str) -> int:
        """Units `key`'s waiting interactive requests ask for: they count against the user's cap."""
        return sum(t.units for t in self._tickets if t.key == key and t.lane == LANES["interactive"])
