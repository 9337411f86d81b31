"""Login throttling that slows guessing but cannot be used to keep an account's owner out.

Failures are counted three ways, each with a few free ones and then a wait that doubles with
every further failure (1, 2, 4 … s) up to a cap; while a wait runs, attempts get 429 with
`Retry-After` before the password is even checked:

- per (account, address): one address guessing one account's password. Capped at
  `ARENA_LOGIN_MAX_DELAY_SECONDS`.
- per account, across addresses: guessing from many addresses stays slow. Each address adds
  only its free failures (past them its pair slows it), so one address cannot slow the account
  for others. Its cap (`ARENA_LOGIN_ACCOUNT_DELAY_SECONDS`) is short, and it never applies to
  an address the account logged in from before (for `KNOWN_FOR`): the owner at their usual
  address gets in whatever others try elsewhere. Nothing ever locks an account.
- per address, across accounts: password spraying (a few guesses at many names).

Counts live in the database (`login_attempts`), so they survive a restart, are shared by every
worker, and `arena user unlock NAME` clears them. Names that do not exist are counted like real
ones, so the answers never tell which names are real. Failures are forgotten `FORGET_AFTER`
after the last one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from arena.settings import Settings
from arena.storage import login_attempts as store
from arena.storage.auth_models import LoginAttempt
from arena.storage.db import Database
from arena.storage.login_attempts import DbSession
from arena.storage.models import utcnow

# An account may fail this many times the per-pair free failures, across addresses, before it
# slows down; an address this many times, across names (people behind one NAT mistype too).
ACCOUNT_FAILURE_FACTOR: Final = 2
IP_FAILURE_FACTOR: Final = 4
KNOWN_FOR: Final = timedelta(days=30)
FORGET_AFTER: Final = timedelta(hours=24)

MESSAGES: Final = {
    store.PAIR: "Too many failed logins for this account from this address",
    store.ACCOUNT: "Too many failed logins for this account from elsewhere",
    store.ADDRESS: "Too many failed logins from this address",
}


class LoginLocked(Exception):
    """Raised by `LoginThrottle.check` while a wait runs; answer 429 with `Retry-After`."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Rule:
    free: int  # failures before any wait
    cap_s: float  # the longest wait

    def wait_s(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return min(self.cap_s, 2.0 ** min(failures - self.free, 62))


class LoginThrottle:
    """Call `check` before verifying a password, then `failed` or `succeeded`. Each touches the
    database: call them off the event loop. `clock` is injectable so tests move time."""

    def __init__(
        self,
        database: Database,
        *,
        free_failures: int = 5,
        max_delay_s: float = 300,
        account_delay_s: float = 60,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._database = database
        self._clock = clock
        self.rules = {
            store.PAIR: Rule(free_failures, max_delay_s),
            store.ACCOUNT: Rule(free_failures * ACCOUNT_FAILURE_FACTOR, account_delay_s),
            store.ADDRESS: Rule(free_failures * IP_FAILURE_FACTOR, max_delay_s),
        }

    @classmethod
    def from_settings(
        cls, settings: Settings, database: Database, *, clock: Callable[[], datetime] = utcnow
    ) -> LoginThrottle:
        return cls(
            database,
            free_failures=settings.login_max_failures,
            max_delay_s=settings.login_max_delay_seconds,
            account_delay_s=settings.login_account_delay_seconds,
            clock=clock,
        )

    def check(self, username: str, ip: str) -> None:
        """Raise `LoginLocked` if this attempt must wait; the longest wait that applies wins."""
        now = self._clock()
        keys = store.keys(username, ip)
        with self._database.session() as session:
            rows = store.find(session, list(keys.values()))
            pair = rows.get(keys[store.PAIR])
            known = pair is not None and pair.known_until is not None and pair.known_until > now
            # From an address this account logged in from, only that pair's own failures count.
            kinds = (store.PAIR,) if known else (store.PAIR, store.ACCOUNT, store.ADDRESS)
            waits = {kind: _remaining(rows.get(keys[kind]), now) for kind in kinds}
        kind, wait = max(waits.items(), key=lambda item: item[1])
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise LoginLocked(f"{MESSAGES[kind]}: try again in {seconds} s", retry_after=seconds)

    def failed(self, username: str, ip: str) -> None:
        now = self._clock()
        with self._database.session() as session:
            keys = store.keys(username, ip)
            pair_failures = self._count(session, store.PAIR, keys[store.PAIR], now)
            # Past its free failures an address is slowed by its own pair; counting those for the
            # account too would let one address slow the owner everywhere else.
            if pair_failures <= self.rules[store.PAIR].free:
                self._count(session, store.ACCOUNT, keys[store.ACCOUNT], now)
            self._count(session, store.ADDRESS, keys[store.ADDRESS], now)
            store.forget_old(session, failed_before=now - FORGET_AFTER, now=now)

    def _count(self, session: DbSession, kind: str, key: store.Key, now: datetime) -> int:
        return store.count_failure(session, key, now=now, forget_after=FORGET_AFTER, wait_s=self.rules[kind].wait_s)

    def succeeded(self, username: str, ip: str) -> None:
        """Clear this pair's count and remember the address as the account's. The account's
        and the address's counts stay: one good login must not give a guesser fresh tries."""
        now = self._clock()
        with self._database.session() as session:
            store.mark_known(session, store.keys(username, ip)[store.PAIR], until=now + KNOWN_FOR)


def _remaining(row: LoginAttempt | None, now: datetime) -> float:
    if row is None or row.blocked_until is None:
        return 0.0
    return max(0.0, (row.blocked_until - now).total_seconds())
