"""Process leases: which server processes share this database, and which of them are gone.

Each server process registers a row (id, host, pid, start time) and renews its heartbeat every
RENEW_S; every answer it streams records it as `owner_process`. A lease whose heartbeat is
older than LEASE_S has expired, and so has one on this very host whose pid no longer runs (a
kill -9 and a restart need not wait out the lease). Recovery closes only the answers of expired
owners, so one process starting never stops the live streams of another.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from arena.storage.models import Response, utcnow
from arena.storage.process_models import HOST_MAX_LENGTH, ServerProcess
from arena.storage.repository import INTERRUPTED_ERROR

LEASE_S: Final = 30.0  # a process silent this long is gone
RENEW_S: Final = 10.0  # how often a live process says it is alive


@dataclass(frozen=True, kw_only=True)
class ProcessIdentity:
    id: str
    host: str
    pid: int


def this_process() -> ProcessIdentity:
    """A new identity for a server process starting now (a fresh id on every start)."""
    return ProcessIdentity(id=uuid.uuid4().hex, host=socket.gethostname()[:HOST_MAX_LENGTH], pid=os.getpid())


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host (another user's counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def register(session: Session, me: ProcessIdentity, *, now: datetime | None = None) -> None:
    now = now or utcnow()
    session.execute(
        insert(ServerProcess).values(id=me.id, host=me.host, pid=me.pid, started_at=now, heartbeat_at=now)
    )


def renew(session: Session, me: ProcessIdentity, *, now: datetime | None = None) -> None:
    """Renew this process's lease; register again if another process removed it as expired."""
    now = now or utcnow()
    result = session.execute(update(ServerProcess).where(ServerProcess.id == me.id).values(heartbeat_at=now))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        register(session, me, now=now)


def release(session: Session, me: ProcessIdentity) -> None:
    """A clean shutdown: the lease goes at once."""
    session.execute(delete(ServerProcess).where(ServerProcess.id == me.id))


def _is_gone(
    lease: ServerProcess, me: ProcessIdentity, now: datetime, alive: Callable[[int], bool]
) -> bool:
    if lease.id == me.id:
        return False
    if lease.heartbeat_at < now - timedelta(seconds=LEASE_S):
        return True
    # Only a pid on this host can be looked up; this very pid is this process (or, in tests, a
    # server sharing it), which only its lease can speak for.
    return lease.host == me.host and lease.pid != me.pid and not alive(lease.pid)


def live_others(
    session: Session, me: ProcessIdentity, *, now: datetime | None = None, alive: Callable[[int], bool] = pid_alive
) -> list[ServerProcess]:
    """The other processes on this database whose lease holds."""
    now = now or utcnow()
    leases = session.scalars(select(ServerProcess).where(ServerProcess.id != me.id)).all()
    return [lease for lease in leases if not _is_gone(lease, me, now, alive)]


def recover_orphaned_responses(
    session: Session,
    me: ProcessIdentity,
    *,
    include_unowned: bool,
    now: datetime | None = None,
    alive: Callable[[int], bool] = pid_alive,
) -> int:
    """Close, as "stopped" with their text, the answers left streaming by processes that are
    gone, and drop those processes' leases; returns how many answers. `include_unowned` also
    closes answers that name no owner (written before leases existed): only at start-up."""
    now = now or utcnow()
    leases = session.scalars(select(ServerProcess)).all()
    gone = [lease.id for lease in leases if _is_gone(lease, me, now, alive)]
    # Leases are read again inside the statement: one registered since (a process starting
    # right now, already streaming) is not taken for gone.
    unleased = and_(Response.owner_process != me.id, Response.owner_process.not_in(select(ServerProcess.id)))
    orphaned = or_(Response.owner_process.in_(gone), unleased)
    if include_unowned:
        orphaned = or_(orphaned, Response.owner_process.is_(None))
    result = session.execute(
        update(Response)
        .where(Response.status == "streaming", orphaned)
        .values(status="stopped", error=INTERRUPTED_ERROR, finished_at=now),
        execution_options={"synchronize_session": False},
    )
    if gone:
        session.execute(delete(ServerProcess).where(ServerProcess.id.in_(gone)))
    return int(result.rowcount)  # type: ignore[attr-defined]
