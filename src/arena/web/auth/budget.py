"""The one budget of generations: instance generations running at once, per caller and in all.

One unit is one instance generating, whatever started it (chat, stream, regenerate, judge, a
benchmark item). A caller past their own cap (ARENA_MAX_STREAMS_PER_USER, counting what they
run and what they have waiting) gets 429 at once. Past the server's total
(ARENA_MAX_GENERATIONS) an interactive request waits in a fair queue (`budget_queue.py`:
round-robin by user, interactive before background work) for up to ARENA_QUEUE_TIMEOUT_S, then
gets 503 (`ServerBusy`, Retry-After). Background work (benchmarks) `wait`s without bound.

`GenerationBudget` does the waiting; a backend keeps the counts and the queue: in memory for
one process (`budget_memory.py`), or in Redis for several (`budget_redis.py`, when
`app.state.redis` is set). Each app holds its own budget on `app.state`.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request

from arena.errors import SharedStateUnavailable
from arena.settings import Settings
from arena.storage.redis_namespace import deployment_namespace
from arena.web.auth.budget_base import GenerationBudget, Units
from arena.web.auth.budget_memory import MemoryBudget
from arena.web.auth.budget_redis import RedisBudget
from arena.web.auth.principal import Principal

__all__ = [
    "GenerationBudget",
    "Units",
    "budget_key",
    "budget_of",
    "claim_generations",
    "close_generation_budget",
    "install_generation_budget",
    "open_generation_budget",
]

logger = logging.getLogger(__name__)


def install_generation_budget(app: FastAPI, settings: Settings) -> None:
    """The budget is made on first use: by then `app.state.redis` is set if Redis is configured."""
    app.state.generation_budget = None
    # Keys in Redis under this deployment's own namespace: another deployment's budget is not ours.
    app.state.generation_budget_prefix = f"{deployment_namespace(settings)}:budget:"
    app.state.generation_limits = {
        "per_user": settings.max_streams_per_user,
        "total": settings.max_generations,
        "queue_timeout_s": settings.queue_timeout_s,
    }


def budget_of(app: FastAPI) -> GenerationBudget:
    """The app's one budget of generations, shared by every route and background run."""
    budget = getattr(app.state, "generation_budget", None)
    if budget is None:
        redis = getattr(app.state, "redis", None)
        limits = app.state.generation_limits
        if redis is not None:
            budget = RedisBudget(redis, prefix=app.state.generation_budget_prefix, **limits)
        else:
            budget = MemoryBudget(**limits)
        app.state.generation_budget = budget
    return budget


async def open_generation_budget(app: FastAPI) -> None:
    """At start-up: a budget in Redis announces this process and learns the shared limits (a
    process whose settings differ warns now). Redis down just now: the first request retries."""
    budget = budget_of(app)
    if isinstance(budget, RedisBudget):
        try:
            await budget.start()
        except SharedStateUnavailable:
            logger.warning("could not reach Redis at start-up for the generation budget; requests will retry")


async def close_generation_budget(app: FastAPI) -> None:
    """At shutdown: a budget in Redis gives back at once what this process still holds."""
    budget = getattr(app.state, "generation_budget", None)
    if isinstance(budget, RedisBudget):
        await budget.aclose()


def generation_budget(request: Request) -> GenerationBudget:
    return budget_of(request.app)


async def client_gone(request: Request) -> None:
    """Returns once the client has closed the connection (its body is already read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def claim_generations(request: Request, principal: Principal, units: int) -> Units:
    """Take `units` of the caller's generations: 429 past their cap at once; past the server's
    total, wait in the queue (503 when the wait runs out; leaves the queue if the client does)."""
    return await generation_budget(request).claim(principal.rate_key, units, client_gone=lambda: client_gone(request))


def budget_key(owner_id: int | None, principal: Principal) -> str:
    """Whose budget a run draws on: its owner's, else (no accounts) the caller's."""
    return f"user:{owner_id}" if owner_id is not None else principal.rate_key
