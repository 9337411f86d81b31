"""Reads and writes of the batch-benchmark tables, as plain functions over a ``Session``.

Call them inside ``Database.session()``. State changes are guarded updates (``WHERE status =
… AND attempts = …``), so a worker that lost its claim can never overwrite what another wrote:
an item is done exactly once, whatever crashed in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from arena.errors import Conflict, InvalidInput, NotFound
from arena.storage.bench_models import BenchItem, BenchJudgment, BenchRun
from arena.storage.models import TITLE_MAX_LENGTH, utcnow
from arena.storage.ownership import Reader, visible

MAX_PAGE_SIZE: Final = 500
MIN_PREFIX_LENGTH: Final = 4
Work = type[BenchItem] | type[BenchJudgment]


# --- runs ---------------------------------------------------------------------------------


def create_run(
    session: Session,
    *,
    name: str,
    prompt_set_name: str,
    prompt_file: str | None,
    prompt_set_sha256: str,
    prompt_count: int,
    instances: list[dict[str, Any]],
    judge: dict[str, Any] | None,
    system: str | None,
    repeats: int,
    concurrency: int,
    seed: int,
    items: Sequence[dict[str, Any]],
    judgments: Sequence[dict[str, Any]],
    owner_id: int | None = None,
) -> BenchRun:
    """The run with all its items and judgments, pending; the session's commit makes it all or nothing."""
    name = name.strip()
    if not name:
        raise InvalidInput("the run name must not be empty")
    if len(name) > TITLE_MAX_LENGTH:
        raise InvalidInput(f"the run name is {len(name)} characters long; at most {TITLE_MAX_LENGTH} are allowed")
    run = BenchRun(
        name=name,
        owner_id=owner_id,
        status="pending",
        prompt_set_name=prompt_set_name[:TITLE_MAX_LENGTH],
        prompt_file=prompt_file[:TITLE_MAX_LENGTH] if prompt_file else None,
        prompt_set_sha256=prompt_set_sha256,
        prompt_count=prompt_count,
        instances=instances,
        judge=judge,
        system=system,
        repeats=repeats,
        concurrency=concurrency,
        seed=seed,
        environment=[],
        cancel_requested=False,
        created_at=utcnow(),
    )
    session.add(run)
    session.flush()
    session.add_all(BenchItem(run_id=run.id, status="pending", attempts=0, **item) for item in items)
    session.add_all(BenchJudgment(run_id=run.id, status="pending", attempts=0, **j) for j in judgments)
    session.flush()
    return run


def get_run(session: Session, *, run_id: str) -> BenchRun:
    run = session.get(BenchRun, run_id, populate_existing=True)
    if run is None:
        raise NotFound(f"benchmark run {run_id!r} does not exist")
    return run


def _visible_runs(reader: Reader | None) -> ColumnElement[bool]:
    return visible(BenchRun.owner_id, reader, admin_reads=True)


def resolve_run_id(session: Session, *, reference: str, reader: Reader | None = None) -> str:
    """A full run id, or a unique prefix of one (at least 4 characters), as git takes commits.

    Only the runs ``reader`` may see are matched (``storage.ownership``), so neither a prefix
    nor an ambiguity tells anyone that another user's run exists.
    """
    reference = reference.strip().lower()
    runs = select(BenchRun.id).where(_visible_runs(reader))
    if session.scalar(runs.where(BenchRun.id == reference)) is not None:
        return reference
    if len(reference) < MIN_PREFIX_LENGTH or not all(c in "0123456789abcdef" for c in reference):
        raise NotFound(f"benchmark run {reference!r} does not exist")
    matches = list(session.scalars(runs.where(BenchRun.id.startswith(reference)).limit(2)))
    if not matches:
        raise NotFound(f"benchmark run {reference!r} does not exist")
    if len(matches) > 1:
        raise InvalidInput(f"{reference!r} matches several benchmark runs: give more of the id")
    return matches[0]


def run_owner(session: Session, *, run_id: str) -> int | None:
    return get_run(session, run_id=run_id).owner_id


def list_runs(session: Session, *, limit: int = 50, offset: int = 0, reader: Reader | None = None) -> list[BenchRun]:
    """Newest first; only those ``reader`` may see (None: all of them)."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    if offset < 0:
        raise InvalidInput(f"offset must not be negative, got {offset}")
    statement = select(BenchRun).where(_visible_runs(reader))
    statement = statement.order_by(BenchRun.created_at.desc(), BenchRun.id).limit(limit).offset(offset)
    return list(session.scalars(statement))


def status_counts(session: Session, *, run_id: str, work: Work) -> dict[str, int]:
    rows = session.execute(select(work.status, func.count()).where(work.run_id == run_id).group_by(work.status)).all()
    return {status: count for status, count in rows}


def item_counts_by_instance(session: Session, *, run_id: str) -> dict[str, dict[str, int]]:
    rows = session.execute(
        select(BenchItem.instance_id, BenchItem.status, func.count())
        .where(BenchItem.run_id == run_id)
        .group_by(BenchItem.instance_id, BenchItem.status)
    ).all()
    counts: dict[str, dict[str, int]] = {}
    for instance_id, status, count in rows:
        counts.setdefault(instance_id, {})[status] = count
    return counts


def test_counts(session: Session, *, run_id: str) -> dict[str, int] | None:
    """A promptfoo run's tests: passed and graded (a failed generation counts as a failed test,
    as promptfoo counts an error); None when the run has no tests."""
    tested = (BenchItem.run_id == run_id, BenchItem.checks.is_not(None))
    if session.scalar(select(BenchItem.id).where(*tested).limit(1)) is None:
        return None
    passed, total = session.execute(
        select(func.count().filter(BenchItem.test_passed.is_(True)), func.count()).where(
            *tested, BenchItem.status.in_(("done", "error"))
        )
    ).one()
    return {"passed": passed, "total": total}


def finished_since(session: Session, *, run_id: str, since: datetime) -> int:
    """Items and judgments that finished at or after ``since``."""
    total = 0
    for work in (BenchItem, BenchJudgment):
        total += (
            session.scalar(
                select(func.count()).where(
                    work.run_id == run_id, work.finished_at.is_not(None), work.finished_at >= since
                )
            )
            or 0
        )
    return total


def claim_run(session: Session, *, run_id: str, worker: str, expected_worker: str | None) -> BenchRun:
    """Make ``worker`` the run's only worker, if the run still has ``expected_worker`` (compare and swap)."""
    now = utcnow()
    current = get_run(session, run_id=run_id)
    condition = BenchRun.worker.is_(None) if expected_worker is None else BenchRun.worker == expected_worker
    result = session.execute(
        update(BenchRun)
        .where(BenchRun.id == run_id, condition)
        .values(
            worker=worker,
            heartbeat_at=now,
            status="running",
            cancel_requested=False,
            started_at=current.started_at or now,
            finished_at=None,
        )
    )
    if result.rowcount != 1:
        raise Conflict(f"benchmark run {run_id} was claimed by another process just now")
    return get_run(session, run_id=run_id)


def heartbeat(session: Session, *, run_id: str, worker: str) -> bool:
    """Say the worker is alive; returns whether a cancel was requested. Conflict if the claim was lost."""
    result = session.execute(
        update(BenchRun).where(BenchRun.id == run_id, BenchRun.worker == worker).values(heartbeat_at=utcnow())
    )
    if result.rowcount != 1:
        raise Conflict(f"benchmark run {run_id} is no longer run by this process")
    return bool(session.scalar(select(BenchRun.cancel_requested).where(BenchRun.id == run_id)))


def release_run(session: Session, *, run_id: str, worker: str, status: str) -> None:
    """The worker lets go: the run is done, cancelled or interrupted."""
    finished = utcnow() if status in ("done", "cancelled") else None
    session.execute(
        update(BenchRun)
        .where(BenchRun.id == run_id, BenchRun.worker == worker)
        .values(worker=None, heartbeat_at=None, status=status, finished_at=finished)
    )


def request_cancel(session: Session, *, run_id: str) -> BenchRun:
    run = get_run(session, run_id=run_id)
    if run.status == "done":
        raise Conflict(f"benchmark run {run_id} has already finished")
    if run.status == "cancelled":
        return run
    run.cancel_requested = True
    session.flush()
    return run


def mark_cancelled(session: Session, *, run_id: str, expected_worker: str | None) -> BenchRun:
    """Cancel a run nobody is working on (its worker, if any, is known to be dead)."""
    condition = BenchRun.worker.is_(None) if expected_worker is None else BenchRun.worker == expected_worker
    result = session.execute(
        update(BenchRun)
        .where(BenchRun.id == run_id, condition, BenchRun.status != "done")
        .values(status="cancelled", worker=None, heartbeat_at=None, cancel_requested=False, finished_at=utcnow())
    )
    if result.rowcount != 1:
        raise Conflict(f"benchmark run {run_id} changed while it was being cancelled: try again")
    return get_run(session, run_id=run_id)


def add_environment(session: Session, *, run_id: str, entry: dict[str, Any]) -> None:
    run = get_run(session, run_id=run_id)
    run.environment = [*(run.environment or []), entry]
    session.flush()


# --- items and judgments: the units of work -----------------------------------------------


def reset_unfinished(session: Session, *, run_id: str, retry_errors: bool = False) -> None:
    """Put back what a dead worker left running (and, when asked, what failed) as pending."""
    for work in (BenchItem, BenchJudgment):
        statuses = ["running", "error"] if retry_errors else ["running"]
        if retry_errors and work is BenchJudgment:
            statuses.append("skipped")
        session.execute(
            update(work)
            .where(work.run_id == run_id, work.status.in_(statuses))
            .values(status="pending", started_at=None, finished_at=None, error=None)
        )


def list_items(session: Session, *, run_id: str, statuses: Sequence[str] | None = None) -> list[BenchItem]:
    statement = select(BenchItem).where(BenchItem.run_id == run_id)
    if statuses is not None:
        statement = statement.where(BenchItem.status.in_(statuses))
    return list(session.scalars(statement.order_by(BenchItem.position)))


def list_judgments(session: Session, *, run_id: str, statuses: Sequence[str] | None = None) -> list[BenchJudgment]:
    statement = select(BenchJudgment).where(BenchJudgment.run_id == run_id)
    if statuses is not None:
        statement = statement.where(BenchJudgment.status.in_(statuses))
    return list(session.scalars(statement.order_by(BenchJudgment.id)))


def start_work(session: Session, *, work: Work, work_id: int, **origin: str | None) -> int:
    """pending → running; returns the attempt number that must finish it. ``origin``: the
    ``host``, ``engine`` and ``worker`` columns (where the result will come from)."""
    result = session.execute(
        update(work)
        .where(work.id == work_id, work.status == "pending")
        .values(
            status="running", attempts=work.attempts + 1, started_at=utcnow(), finished_at=None, error=None, **origin
        )
    )
    if result.rowcount != 1:
        raise Conflict(f"{work.__tablename__} row {work_id} is not pending")
    attempts = session.scalar(select(work.attempts).where(work.id == work_id))
    assert attempts is not None
    return attempts


def finish_work(session: Session, *, work: Work, work_id: int, attempt: int, status: str, **values: Any) -> None:
    """running → done / error / skipped, written only by the attempt that started it."""
    if status not in ("done", "error", "skipped"):
        raise InvalidInput(f"cannot finish work as {status!r}")
    result = session.execute(
        update(work)
        .where(work.id == work_id, work.status == "running", work.attempts == attempt)
        .values(status=status, finished_at=utcnow(), **values)
    )
    if result.rowcount != 1:
        raise Conflict(f"{work.__tablename__} row {work_id} is no longer run by this attempt")


def skip_judgments(session: Session, *, judgment_ids: Sequence[int], reason: str) -> None:
    """Pending judgments that cannot happen (an answer failed) are skipped, saying why."""
    if judgment_ids:
        session.execute(
            update(BenchJudgment)
            .where(BenchJudgment.id.in_(judgment_ids), BenchJudgment.status == "pending")
            .values(status="skipped", error=reason, finished_at=utcnow())
        )
