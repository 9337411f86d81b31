"""The one budget of generations: instance generations running at once, per caller and in all.

Each app holds its own `GenerationBudget` on `app.state` (see `install_generation_budget`), so
two apps in one process never share counts. A caller past their own cap gets 429 with
`Retry-After`; a server whose whole budget is spent answers 503.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

from fastapi import FastAPI, Request

from arena.errors import EngineUnavailable, InvalidInput
from arena.settings import Settings
from arena.web.auth.limits import too_many_requests
from arena.web.auth.principal import Principal

# A client over its stream cap may retry soon: a stream can end at any moment.
STREAM_RETRY_AFTER_S: Final = 1


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


class GenerationBudget:
    """Instance generations in progress, per caller and in all: one unit is one instance
    generating, whatever started it (chat, stream, regenerate, judge, a benchmark item).

    Interactive requests `claim` at once or are refused; background work (benchmarks) `wait`s.
    Used on the event loop only, so no lock: no await lies between a test and its take.
    """

    def __init__(self, *, per_user: int, total: int) -> None:
        self.per_user = per_user
        self.total = total
        self._running: dict[str, int] = {}
        self._in_use = 0
        self._waiters: list[asyncio.Future[None]] = []

    def running(self, key: str) -> int:
        return self._running.get(key, 0)

    @property
    def in_use(self) -> int:
        return self._in_use

    def claim(self, key: str, units: int) -> Units:
        """Take `units` now: 429 past the caller's cap, 503 when the server's budget is spent."""
        self._check_size(units)
        if self.running(key) + units > self.per_user:
            raise too_many_requests(
                f"Too many generations at once: the limit is {self.per_user} per user "
                f"(ARENA_MAX_STREAMS_PER_USER); {self.running(key)} of yours are running and this "
                f"request needs {units}; wait for one to finish",
                retry_after=STREAM_RETRY_AFTER_S,
                bucket="streams",
            )
        if self._in_use + units > self.total:
            # The seam for the team-scale fair queue: interactive requests would wait here.
            raise EngineUnavailable(
                f"too many generations in progress: the server runs at most {self.total} at once "
                "(ARENA_MAX_GENERATIONS, by default MAX_CONCURRENT_REQUESTS × ARENA_MAX_INSTANCES); "
                "wait for one to finish and try again"
            )
        return self._take(key, units)

    @asynccontextmanager
    async def wait(self, key: str, units: int = 1) -> AsyncIterator[Units]:
        """Background work: wait for room under the caller's cap and the total, hold it for the block."""
        self._check_size(units)
        while not self._fits(key, units):
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiters:  # cancelled while waiting
                    self._waiters.remove(waiter)
        with self._take(key, units) as held:
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

    def _fits(self, key: str, units: int) -> bool:
        return self.running(key) + units <= self.per_user and self._in_use + units <= self.total

    def _take(self, key: str, units: int) -> Units:
        self._running[key] = self.running(key) + units
        self._in_use += units
        return Units(self, key, units)

    def _give_back(self, key: str, units: int) -> None:
        left = self.running(key) - units
        if left > 0:
            self._running[key] = left
        else:
            self._running.pop(key, None)  # no entry left behind per caller ever seen
        self._in_use -= units
        # Every waiter looks again; interactive claims, which never wait, get there first.
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


def install_generation_budget(app: FastAPI, settings: Settings) -> None:
    app.state.generation_budget = GenerationBudget(
        per_user=settings.max_streams_per_user, total=settings.max_generations
    )


def generation_budget(request: Request) -> GenerationBudget:
    """The app's one budget of generations, shared by every route and background run."""
    return request.app.state.generation_budget


def claim_generations(request: Request, principal: Principal, units: int) -> Units:
    """Take `units` of the caller's generations now (429 past their cap, 503 when the server is full)."""
    return generation_budget(request).claim(principal.rate_key, units)


def budget_key(owner_id: int | None, principal: Principal) -> str:
    """Whose budget a run draws on: its owner's, else (no accounts) the caller's."""
    return f"user:{owner_id}" if owner_id is not None else principal.rate_key
