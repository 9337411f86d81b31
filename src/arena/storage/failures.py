"""Say why a database call failed, in words safe for a log: never the statement's parameters,
which hold prompts and answers."""

from __future__ import annotations

import errno
import sqlite3

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

REASON_MAX_CHARS = 160
DISK_FULL_SQLSTATE = "53100"  # PostgreSQL's disk_full


def is_database_failure(exc: BaseException) -> bool:
    """The database (or the disk under it) failed, rather than the request being wrong."""
    return isinstance(exc, SQLAlchemyError | OSError)


def reason(exc: BaseException) -> str:
    """The exception's type and, for a driver error, the first line of the driver's message
    (e.g. "OperationalError: attempt to write a readonly database"); a later line may quote data."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        first_line = (str(exc.orig).strip().splitlines() or [""])[0][:REASON_MAX_CHARS]
        return f"{type(exc.orig).__name__}: {first_line}" if first_line else type(exc.orig).__name__
    return type(exc).__name__


def is_disk_full(exc: BaseException) -> bool:
    """The failure is a full disk (SQLite's SQLITE_FULL, PostgreSQL's disk_full, or ENOSPC): it
    will not pass by itself, and the one who can free space should hear so."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(cause, OSError):
        return cause.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(cause, sqlite3.Error):
        return getattr(cause, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return getattr(cause, "sqlstate", None) == DISK_FULL_SQLSTATE
