"""Every Prometheus metric the arena exports, defined once; `exposition` renders them for /metrics.

With several worker processes (``uvicorn --workers N``), set ``PROMETHEUS_MULTIPROC_DIR`` to an
empty directory before they start: prometheus-client then keeps each process's values in files
there and /metrics, whichever worker answers, adds them up. Counters and histograms sum by
nature; each gauge says how (`livesum`: what the live processes hold together). A process that
ends takes its gauges' share with it (`process_exited`).

Labels stay few and bounded, whatever a client sends: a route is its template
(``/api/conversations/{conversation_id}``) or ``unmatched``, never the path a client sent; a
method outside the standard ones is ``other``; a model is one that answered or that the engines
list, a failed one by any other name is ``unlisted``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
LIVE_FILE: Final = re.compile(r"gauge_live\w*_(\d+)\.db")
UNLISTED: Final = "unlisted"  # the model label of a failed generation of a model no engine lists

REQUESTS = Counter("arena_http_requests", "HTTP requests answered", ["method", "route", "status"])
REQUEST_SECONDS = Histogram(
    "arena_http_request_duration_seconds", "Time to answer a request (a stream: until its end)", ["route"]
)
GENERATIONS = Counter("arena_generations", "Instance generations finished", ["engine", "model", "status"])
FIRST_TOKEN_SECONDS = Histogram(
    "arena_time_to_first_token_seconds",
    "Time to an answer's first token",
    ["engine", "model"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
TOKENS_PER_SECOND = Histogram(
    "arena_tokens_per_second",
    "Generation speed of finished answers",
    ["engine", "model"],
    buckets=(1, 2, 5, 10, 20, 35, 50, 75, 100, 200, 500),
)
QUEUE_WAIT_SECONDS = Histogram(
    "arena_generation_wait_seconds",
    "Time an answer waited for a free engine slot before it started",
    ["engine"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60),
)
ACTIVE_STREAMS = Gauge("arena_active_streams", "Streaming responses open now", multiprocess_mode="livesum")
GENERATIONS_RUNNING = Gauge(
    "arena_generations_running", "Instance generations holding a unit of the budget now", multiprocess_mode="livesum"
)
GENERATIONS_QUEUED = Gauge(
    "arena_generations_queued", "Generations waiting for room in the budget now", multiprocess_mode="livesum"
)
RATE_LIMITED = Counter("arena_rate_limited", "Requests refused with 429, by bucket", ["bucket"])
LOGIN_FAILURES = Counter("arena_login_failures", "Failed password logins")
JUDGE_CALLS = Counter("arena_judge_calls", "Judge runs finished", ["status"])
BENCH_WORK = Counter("arena_bench_work", "Benchmark items and judgments finished", ["kind", "status"])
DATABASE_ERRORS = Counter("arena_database_errors", "Requests the database failed")
REDIS_ERRORS = Counter("arena_redis_errors", "Requests the shared state (Redis) failed")
ABUSE_EVENTS = Counter("arena_abuse_events", "Abuse alerts raised (once per window each)", ["event"])


def start_at_zero(counter: Counter, values: tuple[str, ...]) -> None:
    """Make a labelled counter's known series exist at 0 from the start: a series born at 1 (the
    first alert after a restart) is invisible to `increase(...[10m]) > 0`, so it would page no one."""
    for value in values:
        counter.labels(value)


def refresh_budget_gauges(budget: Any) -> None:
    """Read this process's generation budget into its gauges (at each request's end and scrape):
    the units its own requests hold and its own requests waiting (the gauges sum the processes)."""
    if budget is None:
        return
    GENERATIONS_RUNNING.set(budget.in_use)
    GENERATIONS_QUEUED.set(budget.queued())


def exposition() -> bytes:
    """Every metric in Prometheus' text format: all workers' together in multiprocess mode."""
    if os.environ.get(MULTIPROC_ENV):
        _forget_dead_workers(Path(os.environ[MULTIPROC_ENV]))
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def _forget_dead_workers(directory: Path) -> None:
    """A worker killed with -9 never ran `process_exited`: its live gauges (an open stream, units
    held) would count for good. Its files name its pid; one that no longer runs is marked dead."""
    for pid in {
        int(match.group(1)) for path in directory.glob("gauge_live*_*.db") if (match := LIVE_FILE.match(path.name))
    }:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
        except PermissionError:
            pass  # alive, and someone else's


def process_exited() -> None:
    """A worker ends: its live gauges stop counting (multiprocess mode only)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
