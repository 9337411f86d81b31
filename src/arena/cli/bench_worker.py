"""`arena bench worker`: serve the benchmark queue on this machine's engines until stopped.

Registered by ``arena.cli`` under ``arena bench``. Runs started from the browser or the API of
a server with ARENA_BENCH_RUNNER=workers wait in the queue; any number of workers (on any host
that reaches the same PostgreSQL database) share them, row by row (``evaluation.bench.worker``).
On SQLite one worker serves a database: a second one is refused (exit 1) with a clear line.
SIGTERM or Ctrl-C stops it cleanly: the rows in flight go back to pending at once (exit 0).
With ARENA_REDIS_URL each generation also draws a unit of the run owner's budget in Redis, the
one the web processes count (ARENA_MAX_STREAMS_PER_USER, ARENA_MAX_GENERATIONS), under a lease of
this process's own; without it `--concurrency` is the worker's only limit.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from arena.cli._common import console, exit_on_error, load_settings, ready_database

if TYPE_CHECKING:
    from arena.evaluation.bench.runner import WorkEvent
    from arena.evaluation.budget import Budget
    from arena.settings import Settings


@asynccontextmanager
async def _shared_budget(settings: Settings) -> AsyncIterator[Budget]:
    """The web processes' generation budget in Redis, under this worker's own lease (given back
    when it stops); without Redis none: the worker's `--concurrency` is its only limit."""
    from arena.evaluation.budget import UNLIMITED

    if settings.redis_url is None:
        yield UNLIMITED
        return
    from arena.storage.redis_namespace import deployment_namespace
    from arena.storage.shared_state import connect
    from arena.web.auth.budget_redis import RedisBudget

    redis = connect(settings.redis_url.get_secret_value())
    budget = RedisBudget(
        redis,
        prefix=f"{deployment_namespace(settings)}:budget:",  # the web processes' budget, not one of its own
        per_user=settings.max_streams_per_user,
        total=settings.max_generations,
        queue_timeout_s=settings.queue_timeout_s,
    )
    try:
        yield budget
    finally:
        await budget.aclose()
        await redis.aclose()


async def _serve(*, concurrency: int, lease_s: float, poll_s: float, quiet: bool) -> None:
    from arena.engines.factory import build_router
    from arena.evaluation.bench.steps import describe_environment
    from arena.evaluation.bench.worker import BenchWorker, single_sqlite_worker

    settings = load_settings()
    database = ready_database(settings)
    router = build_router(settings)
    try:
        async with _shared_budget(settings) as budget:
            with single_sqlite_worker(database):

                def heard(event: WorkEvent) -> None:
                    if not quiet:
                        error = f": {event.error}" if event.error else ""
                        console.print(
                            f"{event.kind} {event.status}: {event.label}{error}", highlight=False, markup=False
                        )

                worker = BenchWorker(
                    database=database,
                    router=router,
                    concurrency=concurrency,
                    lease_s=lease_s,
                    poll_s=poll_s,
                    timeout_s=settings.request_timeout,
                    environment=await describe_environment(router),
                    listener=heard,
                    budget=budget,
                )
                loop = asyncio.get_running_loop()
                for number in (signal.SIGTERM, signal.SIGINT):  # stop cleanly; kill -9 is what leases are for
                    loop.add_signal_handler(number, worker.stop)
                shared = "the shared generation budget (Redis)" if settings.redis_url else "no shared budget"
                console.print(
                    f"bench worker {worker.worker} serving the {database.backend} queue "
                    f"({concurrency} at once, {shared}, lease {lease_s:g} s); stop it with Ctrl-C",
                    highlight=False,
                    soft_wrap=True,
                )
                await worker.run()
                console.print(f"bench worker {worker.worker} stopped", highlight=False, soft_wrap=True)
    finally:
        await router.aclose()
        database.dispose()


def bench_worker(
    concurrency: Annotated[
        int,
        typer.Option(
            min=1,
            max=256,
            help="Items at once in this worker; with ARENA_REDIS_URL each also waits for a unit of its owner's "
            "generation budget",
        ),
    ] = 2,
    lease: Annotated[
        float,
        typer.Option(
            min=1.0,
            max=3600.0,
            help="Seconds a claimed item stays this worker's without a heartbeat; a killed worker's items "
            "are taken over after it",
        ),
    ] = 30.0,
    poll: Annotated[float, typer.Option(min=0.05, max=60.0, help="Seconds between looks at an empty queue")] = 1.0,
    quiet: Annotated[bool, typer.Option(help="No line per finished item")] = False,
) -> None:
    """Run queued benchmarks (ARENA_BENCH_RUNNER=workers) on this machine's engines until stopped."""
    with exit_on_error():
        asyncio.run(_serve(concurrency=concurrency, lease_s=lease, poll_s=poll, quiet=quiet))
