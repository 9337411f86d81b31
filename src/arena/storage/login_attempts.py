"""Failed logins as the throttle counts them: one row per (account, address) pair, per account
and per address (`LoginAttempt`). The policy (how long to wait) is the web layer's; this module
only reads, counts and clears rows. A login counts its attempt on rows it holds locked
(`locked_rows`), so logins racing for the same rows are counted one after another."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import and_, delete, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from arena.storage.accounts import username_key
from arena.storage.auth_models import ATTEMPT_ACCOUNT_LENGTH, ATTEMPT_ADDRESS_LENGTH, LoginAttempt

PAIR: Final = "pair"
ACCOUNT: Final = "account"
ADDRESS: Final = "address"

Key = tuple[str, str, str]  # (kind, account, address)
DbSession = Session  # for callers above, which do not import SQLAlchemy themselves


def account_of(username: str) -> str:
    """The account a typed name counts against ("Ada " and "ada" share one budget)."""
    return username_key(username.strip())[:ATTEMPT_ACCOUNT_LENGTH]


def keys(username: str, address: str) -> dict[str, Key]:
    account, address = account_of(username), address[:ATTEMPT_ADDRESS_LENGTH]
    return {PAIR: (PAIR, account, address), ACCOUNT: (ACCOUNT, account, ""), ADDRESS: (ADDRESS, "", address)}


def find(session: Session, wanted: list[Key]) -> dict[Key, LoginAttempt]:
    clauses = [
        and_(LoginAttempt.kind == k, LoginAttempt.account == a, LoginAttempt.address == ad) for k, a, ad in wanted
    ]
    rows = session.scalars(select(LoginAttempt).where(or_(*clauses)))
    return {(row.kind, row.account, row.address): row for row in rows}


def locked_rows(session: Session, wanted: list[Key]) -> dict[Key, LoginAttempt]:
    """The rows for `wanted`, made if missing and locked until commit, in the order given.

    Everything the caller then reads and writes is one atomic step, so logins racing for the
    same rows are counted one after another. Callers pass the kinds in one order (pair, account,
    address), so two transactions never wait for each other in a circle. On PostgreSQL each row
    is locked (`SELECT … FOR UPDATE`); on SQLite the first statement is a write, which takes the
    database's one write lock for the whole transaction."""
    return {key: _locked_row(session, key) for key in wanted}


def _locked_row(session: Session, key: Key) -> LoginAttempt:
    kind, account, address = key
    values = {"kind": kind, "account": account, "address": address, "failures": 0}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql.insert(LoginAttempt).values(**values).on_conflict_do_nothing())
    else:
        session.execute(sqlite.insert(LoginAttempt).values(**values).on_conflict_do_nothing())
    statement = select(LoginAttempt).where(
        LoginAttempt.kind == kind, LoginAttempt.account == account, LoginAttempt.address == address
    )
    # populate_existing: the row as locked now, not as this session may have read it before.
    return session.scalars(statement.with_for_update().execution_options(populate_existing=True)).one()


def count_failure(row: LoginAttempt, *, now: datetime, forget_after: timedelta, wait_s: Callable[[int], float]) -> int:
    """Count one failure on a locked `row` (after forgetting old ones) and set the wait `wait_s`
    gives for the new count. Returns the count."""
    if row.last_failure_at is not None and now - row.last_failure_at > forget_after:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    wait = wait_s(row.failures)
    row.blocked_until = now + timedelta(seconds=wait) if wait else None
    return row.failures


def uncount_failure(row: LoginAttempt, *, wait_s: Callable[[int], float]) -> None:
    """Take back one failure counted on a locked `row` for an attempt that turned out right, and
    set the wait to what the remaining count gives (from the last failure)."""
    row.failures = max(0, row.failures - 1)
    wait = wait_s(row.failures)
    last = row.last_failure_at
    row.blocked_until = last + timedelta(seconds=wait) if wait and last is not None else None


def mark_known(row: LoginAttempt, *, until: datetime) -> None:
    """A login from this locked pair row: its failures are forgiven and its address is known until `until`."""
    row.failures = 0
    row.blocked_until = None
    row.known_until = until


def clear_account(session: Session, *, username: str) -> int:
    """Forget an account's failures, from every address (`arena user unlock`). Addresses it
    logged in from stay known. Returns how many rows had failures."""
    account = account_of(username)
    cleared = session.execute(
        update(LoginAttempt)
        .where(LoginAttempt.account == account, LoginAttempt.failures > 0)
        .values(failures=0, blocked_until=None)
    )
    return cleared.rowcount or 0  # type: ignore[attr-defined]


def forget_old(session: Session, *, failed_before: datetime, now: datetime) -> None:
    """Drop rows with no recent failure that remember no login, so guessing at made-up names
    does not grow the table for ever."""
    stale = (
        select(LoginAttempt.kind, LoginAttempt.account, LoginAttempt.address)
        .where(
            or_(LoginAttempt.last_failure_at.is_(None), LoginAttempt.last_failure_at < failed_before),
            or_(LoginAttempt.known_until.is_(None), LoginAttempt.known_until < now),
        )
        # Rows another login holds are left for next time: waiting for them could close a circle.
        .with_for_update(skip_locked=True)
    )
    session.execute(
        delete(LoginAttempt).where(tuple_(LoginAttempt.kind, LoginAttempt.account, LoginAttempt.address).in_(stale))
    )
