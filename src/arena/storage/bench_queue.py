"""The bench queue: runs waiting for `arena bench worker` processes, and the rows they lease.

A queued run (``bench_runs.queued_at`` set) is served row by row: a worker claims one pending
item (or a judgment whose two answers are done) in a transaction that locks it with ``SELECT …
FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two workers never claim the same row and never wait
for each other; SQLite has no row locks and serves one worker (``evaluation.bench.worker`` holds
a file lock), and every state change is a compare-and-swap on (status, attempts) besides.

A claim writes the worker's id and ``lease_until``; the worker's heartbeat moves the lease on. A
row whose lease ran out (its worker was killed) is claimable again, with the next attempt
number; a finish is written only by the worker and attempt that hold the row, so a result is
stored once whatever crashed in between.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from arena.errors import Conflict
from arena.storage import bench as store
from arena.storage.bench_models import BenchItem, BenchJudgment, BenchRun
from arena.storage.models import utcnow

Work = type[BenchItem] | type[BenchJudgment]
WORK: Final[tuple[Work, ...]] = (BenchItem, BenchJudgment)
SERVED: Final = ("pending", "running")  # run statuses a worker may take rows from


def enqueue_run(session: Session, *, run_id: str, retry_errors: bool = False) -> BenchRun:
    """Put the run in the worker queue; what a dead runner left running (and, if asked, what
    failed) goes back to pending. The caller has checked nobody runs it now."""
    store.reset_unfinished(session, run_id=run_id, retry_errors=retry_errors)
    for work in WORK:  # finished rows keep their worker: it says who produced them
        session.execute(
            update(work).where(work.run_id == run_id, work.status == "pending").values(worker=None, lease_until=None)
        )
    session.execute(
        update(BenchRun)
        .where(BenchRun.id == run_id)
        .values(queued_at=utcnow(), status="pending", cancel_requested=False, finished_at=None, worker=None)
    )
    return store.get_run(session, run_id=run_id)


def dequeue_cancelled(session: Session, *, run_id: str) -> None:
    """Take a queued run out of the queue as cancelled; its workers let go of its rows at their
    next heartbeat (``renew`` no longer counts them as held)."""
    session.execute(
        update(BenchRun)
        .where(BenchRun.id == run_id, BenchRun.status != "done")
        .values(status="cancelled", queued_at=None, cancel_requested=False, finished_at=utcnow())
    )


def _claimable(work: Work, now: datetime):  # type: ignore[no-untyped-def]
    expired = and_(work.status == "running", or_(work.lease_until.is_(None), work.lease_until < now))
    return or_(work.status == "pending", expired)


def _queued(work: Work):  # type: ignore[no-untyped-def]
    return and_(BenchRun.id == work.run_id, BenchRun.queued_at.is_not(None), BenchRun.status.in_(SERVED))


def _take(
    session: Session, row: BenchItem | BenchJudgment, *, worker: str, host: str, engine: str | None, lease_s: float
) -> int | None:
    """Compare and swap the row to running under this worker; the new attempt number, or None."""
    work = type(row)
    now = utcnow()
    attempt = row.attempts + 1  # read first: the update refreshes the row in the session
    result = session.execute(
        update(work)
        .where(work.id == row.id, work.status == row.status, work.attempts == row.attempts)
        .values(
            status="running",
            attempts=attempt,
            worker=worker,
            lease_until=now + timedelta(seconds=lease_s),
            host=host,
            engine=engine,
            started_at=now,
            finished_at=None,
            error=None,
        )
    )
    return attempt if result.rowcount == 1 else None


def queued_runs(session: Session) -> list[tuple[str, list[dict[str, Any]], dict[str, Any] | None]]:
    """(id, instances, judge) of every queued run: which models a worker would need for them."""
    rows = session.execute(
        select(BenchRun.id, BenchRun.instances, BenchRun.judge).where(
            BenchRun.queued_at.is_not(None), BenchRun.status.in_(SERVED)
        )
    )
    return [(run_id, instances, judge) for run_id, instances, judge in rows]


def claim_item(
    session: Session,
    *,
    worker: str,
    host: str,
    lease_s: float,
    engine_of: Callable[[str], str | None],
    models: Collection[str] | None = None,
) -> tuple[BenchItem, int] | None:
    """The next item of the oldest queued run, leased to ``worker``; None when there is none.
    ``models``: only items of these models (the ones this worker's engines serve)."""
    now = utcnow()
    statement = (
        select(BenchItem)
        .join(BenchRun, _queued(BenchItem))
        .where(_claimable(BenchItem, now), *([] if models is None else [BenchItem.model.in_(list(models))]))
        .order_by(BenchRun.queued_at, BenchItem.position)
        .limit(1)
        .with_for_update(skip_locked=True, of=BenchItem)
    )
    item = session.scalar(statement)
    if item is None:
        return None
    attempt = _take(session, item, worker=worker, host=host, engine=engine_of(item.model), lease_s=lease_s)
    return (item, attempt) if attempt is not None else None


def claim_judgment(
    session: Session,
    *,
    worker: str,
    host: str,
    lease_s: float,
    engine_of: Callable[[str], str | None],
    run_ids: Collection[str] | None = None,
) -> tuple[BenchJudgment, int] | None:
    """The next pair whose two answers are done, leased to ``worker``; None when there is none.
    ``run_ids``: only pairs of these runs (those whose judge this worker's engines serve)."""
    now = utcnow()
    answered = [aliased(BenchItem) for _ in range(2)]
    done = [
        exists().where(
            side.run_id == BenchJudgment.run_id,
            side.prompt_id == BenchJudgment.prompt_id,
            side.repeat == BenchJudgment.repeat,
            side.instance_id == instance,
            side.status == "done",
        )
        for side, instance in zip(answered, (BenchJudgment.instance_a, BenchJudgment.instance_b), strict=True)
    ]
    statement = (
        select(BenchJudgment)
        .join(BenchRun, _queued(BenchJudgment))
        .where(_claimable(BenchJudgment, now), *done)
        .where(*([] if run_ids is None else [BenchJudgment.run_id.in_(list(run_ids))]))
        .order_by(BenchRun.queued_at, BenchJudgment.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=BenchJudgment)
    )
    judgment = session.scalar(statement)
    if judgment is None:
        return None
    run = store.get_run(session, run_id=judgment.run_id)
    model = (run.judge or {}).get("model", "")
    attempt = _take(session, judgment, worker=worker, host=host, engine=engine_of(model), lease_s=lease_s)
    return (judgment, attempt) if attempt is not None else None


def skip_unanswerable(session: Session) -> int:
    """Skip the pending pairs of queued runs of which one answer failed; how many were skipped."""
    failed = aliased(BenchItem)
    blocked = exists().where(
        failed.run_id == BenchJudgment.run_id,
        failed.prompt_id == BenchJudgment.prompt_id,
        failed.repeat == BenchJudgment.repeat,
        failed.instance_id.in_([BenchJudgment.instance_a, BenchJudgment.instance_b]),
        failed.status == "error",
    )
    queued = select(BenchRun.id).where(BenchRun.queued_at.is_not(None))
    result = session.execute(
        update(BenchJudgment)
        .where(BenchJudgment.status == "pending", BenchJudgment.run_id.in_(queued), blocked)
        .values(status="skipped", error="an answer to judge failed", finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def renew(session: Session, *, worker: str, lease_s: float) -> set[tuple[str, int]]:
    """Move the worker's leases on; returns the rows it still holds in queued runs, as
    (table, id). A row missing from the answer was taken over or its run was cancelled."""
    until = utcnow() + timedelta(seconds=lease_s)
    held: set[tuple[str, int]] = set()
    for work in WORK:
        session.execute(update(work).where(work.worker == worker, work.status == "running").values(lease_until=until))
        rows = session.execute(
            select(work.id).join(BenchRun, _queued(work)).where(work.worker == worker, work.status == "running")
        )
        held |= {(work.__tablename__, row_id) for (row_id,) in rows}
    return held


def finish(
    session: Session, *, work: Work, work_id: int, attempt: int, worker: str, status: str, **values: object
) -> None:
    """running → done / error, only by the worker and attempt holding the row; Conflict otherwise."""
    result = session.execute(
        update(work)
        .where(work.id == work_id, work.status == "running", work.attempts == attempt, work.worker == worker)
        .values(status=status, finished_at=utcnow(), lease_until=None, **values)
    )
    if result.rowcount != 1:
        raise Conflict(f"{work.__tablename__} row {work_id} is no longer held by this worker")


def release(session: Session, *, worker: str, rows: set[tuple[str, int]] | None = None) -> int:
    """Put the worker's running rows (or only ``rows``) back to pending at once; how many."""
    count = 0
    for work in WORK:
        statement = update(work).where(work.worker == worker, work.status == "running")
        if rows is not None:
            ids = [row_id for table, row_id in rows if table == work.__tablename__]
            if not ids:
                continue
            statement = statement.where(work.id.in_(ids))
        result = session.execute(
            statement.values(status="pending", worker=None, lease_until=None, started_at=None, error=None)
        )
        count += result.rowcount or 0
    return count


def mark_started(session: Session, *, run_id: str, entry: dict[str, object]) -> None:
    """A worker's first row of a run: the run is running, and the worker's environment is added
    (the run row locked, so two workers starting at once both get their entry in)."""
    run = session.get(BenchRun, run_id, with_for_update=True, populate_existing=True)
    if run is None or run.queued_at is None:
        return
    now = utcnow()
    if run.status == "pending":
        run.status = "running"
    run.started_at = run.started_at or now
    run.environment = [*(run.environment or []), entry]
    session.flush()


def complete_if_finished(session: Session, *, run_id: str) -> bool:
    """Mark a queued run done when no row of it is pending or running; whether it is done now."""
    for work in WORK:
        left = session.scalar(
            select(func.count()).where(work.run_id == run_id, work.status.in_(("pending", "running")))
        )
        if left:
            return False
    session.execute(
        update(BenchRun)
        .where(BenchRun.id == run_id, BenchRun.queued_at.is_not(None))
        .values(status="done", queued_at=None, finished_at=utcnow())
    )
    return True


def complete_finished(session: Session) -> list[str]:
    """Mark done every queued run with nothing left to do; their ids. A sweep for the run whose
    last finisher crashed (or raced another finisher) before it could say so."""
    queued = session.scalars(select(BenchRun.id).where(BenchRun.queued_at.is_not(None), BenchRun.status.in_(SERVED)))
    return [run_id for run_id in list(queued) if complete_if_finished(session, run_id=run_id)]


def live_leases(session: Session, *, run_id: str) -> int:
    """Rows of the run a worker holds right now (an unexpired lease)."""
    now = utcnow()
    return sum(
        session.scalar(
            select(func.count()).where(work.run_id == run_id, work.status == "running", work.lease_until > now)
        )
        or 0
        for work in WORK
    )


def last_activity(session: Session, *, run_id: str) -> datetime | None:
    """When a worker last claimed or finished a row of the run."""
    latest = [
        session.scalar(select(func.max(column)).where(work.run_id == run_id))
        for work in WORK
        for column in (work.started_at, work.finished_at)
    ]
    present = [value for value in latest if value is not None]
    return max(present) if present else None


def pair_answers(session: Session, *, judgment: BenchJudgment) -> dict[str, BenchItem]:
    """The two done answers a judged pair compares, by instance id (not the whole run's answers)."""
    statement = select(BenchItem).where(
        BenchItem.run_id == judgment.run_id,
        BenchItem.prompt_id == judgment.prompt_id,
        BenchItem.repeat == judgment.repeat,
        BenchItem.instance_id.in_((judgment.instance_a, judgment.instance_b)),
        BenchItem.status == "done",
    )
    return {item.instance_id: item for item in session.scalars(statement)}
