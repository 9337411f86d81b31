"""An answer's end: its final text, status and metrics, in one conditional UPDATE.

The stream's recorder writes this as each instance ends, on the event loop (a cancelled task
may not await again), so it is one statement and reads nothing back; `repository.finish_response`
is the same with the row returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, false, or_, select, update
from sqlalchemy.orm import Session

from arena.errors import Conflict, InvalidInput, NotFound
from arena.storage.models import FINISHED_STATUSES, Response, utcnow


def close_response(
    session: Session,
    *,
    response_id: int,
    text: str,
    status: str,
    error: str | None = None,
    values: Mapping[str, Any] | None = None,
) -> None:
    """Store the final text and status ("ok", "error" or "stopped"), and `values` (more columns
    of the row: counts, timings, cache state); only once (Conflict if the answer has ended)."""
    if status not in FINISHED_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(FINISHED_STATUSES)}, got {status!r}")
    if status == "error" and not error:
        raise InvalidInput("a response that ended in an error needs the error message")
    # A stop and a natural end racing cannot both win. The owner may still end a row recovery
    # closed while it could not renew its lease (frozen, cut off): its answer is whole.
    me = session.info.get("process_id")
    mine_closed = and_(Response.status == "stopped", Response.owner_process == me) if me else false()
    result = session.execute(
        update(Response)
        .where(Response.id == response_id, or_(Response.status == "streaming", mine_closed))
        .values(**(values or {}), text=text, status=status, error=error, finished_at=utcnow()),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise_not_streaming(session, response_id)


def raise_not_streaming(session: Session, response_id: int) -> None:
    status = session.scalar(select(Response.status).where(Response.id == response_id))
    if status is None:
        raise NotFound(f"response {response_id!r} does not exist")
    raise Conflict(f"response {response_id!r} has already finished ({status})")
