"""`arena bench worker`: serve the benchmark queue on this machine's engines until stopped.

Registered by ``arena.cli`` under ``arena bench``. Runs started from the browser or the API of
a server with ARENA_BENCH_RUNNER=workers wait in the queue; any number of workers (on any host
that reaches the same PostgreSQL database) share them, row by row (``evaluation.bench.worker``).
On SQLite one worker serves a database: a second one is refused (exit 1) with a clear line.
SIGTERM or Ctrl-C stops it cleanly: the rows in flight go back to pending at once (exit 0).
"""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING, Annotated

import typer

from arena.cli._common import console, exit_on_error, load_settings, ready_database

if TYPE_CHECKING:
    from arena.evaluation.bench.runner import WorkEvent


async def _serve(*, concurrency: int, lease_s: float, poll_s: float, quiet: bool) -> None:
    from arena.engines.factory import build_router
    from arena.evaluation.bench.steps import describe_environment
    from arena.evaluation.bench.worker import BenchWorker, single_sqlite_worker

    settings = load_settings()
    database = ready_database(settings)
    router = build_router(settings)
    try:
        with single_sqlite_worker(database):

            def heard(event: WorkEvent) -> None:
                if not quiet:
                    error = f": {event.error}" if event.error else ""
                    console.print(f"{event.kind} {event.status}: {event.label}{error}", highlight=False, markup=False)

            worker = BenchWorker(
                database=database,
                router=router,
                concurrency=concurrency,
                lease_s=lease_s,
                poll_s=poll_s,
                timeout_s=settings.request_timeout,
                environment=await describe_environment(router),
                listener=heard,
            )
            loop = asyncio.get_running_loop()
            for number in (signal.SIGTERM, signal.SIGINT):  # stop cleanly; kill -9 is what leases are for
                loop.add_signal_handler(number, worker.stop)
            console.print(
                f"bench worker {worker.worker} serving the {database.backend} queue "
                f"({concurrency} at once, lease {lease_s:g} s); stop it with Ctrl-C",
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
        int, typer.Option(min=1, max=256, help="Generations at once in this worker (its own budget)")
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
