"""Equal CPU shares for the embedded engine's generations, never more threads than cores.

Every generation holding a slot has a seat. A seat's thread count is cores // the most
generations that ran while it did: it shrinks when another joins and never grows back when
one finishes, so answers generated together run on the same share from start to end (a
longer answer does not speed up once a shorter one is done). The generation thread applies
its share before the prompt and again after every sampled token.
"""

from __future__ import annotations

import threading
from typing import Any


class ThreadShare:
    def __init__(self, cores: int) -> None:
        self.cores = max(1, cores)
        self._lock = threading.Lock()
        self._seats: set[Seat] = set()

    def join(self) -> Seat:
        """A generation starts running (it holds a slot): every running seat's share shrinks to fit."""
        with self._lock:
            seat = Seat(self)
            self._seats.add(seat)
            running = len(self._seats)
            for other in self._seats:
                other.peak = max(other.peak, running)
            return seat

    def leave(self, seat: Seat) -> None:
        with self._lock:
            self._seats.discard(seat)

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._seats)


class Seat:
    def __init__(self, share: ThreadShare) -> None:
        self._share = share
        self.peak = 1
        self._applied: int | None = None

    def threads(self) -> int:
        return max(1, self._share.cores // self.peak)

    def apply(self, llm: Any) -> None:
        """On the generation thread: set the llama context's threads if the share changed."""
        threads = self.threads()
        if threads != self._applied:
            llm._ctx.set_n_threads(threads, threads)
            self._applied = threads

    def leave(self) -> None:
        self._share.leave(self)
