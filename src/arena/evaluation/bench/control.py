"""A benchmark run's progress, and the operations on a run that exists: find, cancel, resume-check.

Progress is counted in SQL (by status), so the page can poll it every second on a large run.
A run whose worker is gone reads as "interrupted"; see ``bench.claim`` for how that is known.
A run in the bench workers' queue reads as "queued" until a worker takes a row of it, then
"running"; ``waiting_for_worker`` says no worker has touched it for ``WAITING_AFTER_S``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from arena.errors import Conflict
from arena.evaluation.bench.claim import worker_alive
from arena.storage import bench as store
from arena.storage import bench_queue as queue
from arena.storage.bench_models import BenchItem, BenchJudgment, BenchRun
from arena.storage.db import Database
from arena.storage.models import utcnow
from arena.storage.ownership import Reader

FINISHED: Final = ("done", "error", "skipped")
WAITING_AFTER_S: Final = 5.0  # a worker between two rows holds no lease for a moment; that is no wait


@dataclass(frozen=True, kw_only=True)
class RunProgress:
    id: str
    name: str
    status: str  # pending | running | interrupted | cancelled | done; "cancelling" while a cancel is pending
    prompt_set: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    items: dict[str, int]  # by status
    judgments: dict[str, int]
    total: int
    finished: int
    failed: int  # items and judgments that ended in error
    instances: list[dict[str, Any]]
    judge: dict[str, Any] | None
    per_instance: dict[str, dict[str, int]] = field(default_factory=dict)
    rate_per_s: float | None = None  # finished work per second since the current session began
    eta_s: float | None = None
    queued: bool = False  # served by `arena bench worker` processes, not by a server or the CLI
    waiting_for_worker: bool = False  # queued, and no worker has held or finished a row for a while
    tests: dict[str, int] | None = None  # a promptfoo run's tests so far: passed, total

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "prompt_set": self.prompt_set,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "items": self.items,
            "judgments": self.judgments,
            "total": self.total,
            "finished": self.finished,
            "failed": self.failed,
            "instances": self.instances,
            "judge": self.judge,
            "per_instance": self.per_instance,
            "rate_per_s": self.rate_per_s,
            "eta_s": self.eta_s,
            "queued": self.queued,
            "waiting_for_worker": self.waiting_for_worker,
            "tests": self.tests,
        }


def effective_status(run: BenchRun) -> str:
    """What a person should read: a claimed run whose worker is dead is interrupted."""
    if run.queued_at is not None and run.status in ("pending", "running"):
        return "queued" if run.status == "pending" else "running"
    if run.status == "running" and not worker_alive(run.worker, heartbeat_at=run.heartbeat_at):
        return "interrupted"
    if run.status == "running" and run.cancel_requested:
        return "cancelling"
    return run.status


def _progress(session: Session, run: BenchRun) -> RunProgress:
    items = store.status_counts(session, run_id=run.id, work=BenchItem)
    judgments = store.status_counts(session, run_id=run.id, work=BenchJudgment)
    total = sum(items.values()) + sum(judgments.values())
    finished = sum(count for status, count in [*items.items(), *judgments.items()] if status in FINISHED)
    status = effective_status(run)
    rate = eta = None
    session_start = _session_start(run)
    if status in ("running", "cancelling") and session_start is not None:
        recent = store.finished_since(session, run_id=run.id, since=session_start)
        elapsed = (utcnow() - session_start).total_seconds()
        if recent and elapsed > 0:
            rate = recent / elapsed
            eta = (total - finished) / rate
    return RunProgress(
        id=run.id,
        name=run.name,
        status=status,
        prompt_set=run.prompt_set_name,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        items=items,
        judgments=judgments,
        total=total,
        finished=finished,
        failed=items.get("error", 0) + judgments.get("error", 0),
        instances=run.instances,
        judge=run.judge,
        per_instance=store.item_counts_by_instance(session, run_id=run.id),
        rate_per_s=round(rate, 4) if rate else None,
        eta_s=round(eta, 1) if eta is not None else None,
        queued=run.queued_at is not None,
        waiting_for_worker=_waiting_for_worker(session, run),
        tests=store.test_counts(session, run_id=run.id),
    )


def _waiting_for_worker(session: Session, run: BenchRun) -> bool:
    if run.queued_at is None or queue.live_leases(session, run_id=run.id):
        return False
    latest = max(filter(None, [run.queued_at, queue.last_activity(session, run_id=run.id)]))
    return (utcnow() - latest).total_seconds() > WAITING_AFTER_S


def _session_start(run: BenchRun) -> datetime | None:
    if run.environment:
        started = run.environment[-1].get("started_at")
        if started:
            return datetime.fromisoformat(started)
    return run.started_at


def get_progress(*, database: Database, run_id: str) -> RunProgress:
    with database.session() as session:
        run_id = store.resolve_run_id(session, reference=run_id)
        return _progress(session, store.get_run(session, run_id=run_id))


def list_progress(*, database: Database, limit: int = 50, reader: Reader | None = None) -> list[RunProgress]:
    """The latest runs ``reader`` may see (None, as for the CLI: all of them)."""
    with database.session() as session:
        runs = store.list_runs(session, limit=limit, reader=reader)
        return [_progress(session, run) for run in runs]


def resolve_run(*, database: Database, reference: str) -> str:
    """A full run id from an id or a unique prefix of one."""
    with database.session() as session:
        return store.resolve_run_id(session, reference=reference)


def ensure_resumable(*, database: Database, run_id: str, retry_errors: bool = False) -> RunProgress:
    """The run's progress if it can be (re)started now; Conflict when it runs already or has nothing left."""
    progress = get_progress(database=database, run_id=run_id)
    if progress.status in ("running", "cancelling", "queued"):
        where = "queued for the bench workers" if progress.queued else "running"
        raise Conflict(f"benchmark run {progress.id} is {where} already")
    if progress.status == "done" and not (retry_errors and progress.failed + progress.judgments.get("skipped", 0)):
        raise Conflict(f"benchmark run {progress.id} has already finished; retrying its failures redoes what failed")
    return progress


def queue_run(*, database: Database, run_id: str, retry_errors: bool = False) -> None:
    """Hand a run to the bench workers (ARENA_BENCH_RUNNER=workers); the caller checked it is resumable."""
    with database.session() as session:
        queue.enqueue_run(session, run_id=run_id, retry_errors=retry_errors)


def cancel_run(*, database: Database, run_id: str) -> RunProgress:
    """Stop a run. A live worker sees the request within a heartbeat and stops itself; a run
    nobody works on is cancelled here, what its dead worker left running put back as pending."""
    with database.session() as session:
        run_id = store.resolve_run_id(session, reference=run_id)
        run = store.get_run(session, run_id=run_id)
        if run.status == "done":
            raise Conflict(f"benchmark run {run_id} has already finished")
        if run.queued_at is not None:  # its workers let go of its rows at their next heartbeat
            queue.dequeue_cancelled(session, run_id=run_id)
        elif run.status != "cancelled":
            if worker_alive(run.worker, heartbeat_at=run.heartbeat_at):
                store.request_cancel(session, run_id=run_id)
            else:
                store.reset_unfinished(session, run_id=run_id)
                store.mark_cancelled(session, run_id=run_id, expected_worker=run.worker)
    return get_progress(database=database, run_id=run_id)
