"""Login throttling that slows guessing but cannot be used to keep an account's owner out.

Every attempt is counted as a failure *before* its password is checked (`reserve`), in one
transaction that holds the counting rows locked: a burst of parallel guesses is counted one by
one, so no more of them reach the password check than the rules allow. A right password then
takes its count back (`succeeded`).

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
from collections.abc import Callable, Mapping
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
KINDS: Final = (store.PAIR, store.ACCOUNT, store.ADDRESS)  # the order rows are locked in, always


class LoginLocked(Exception):
    """Raised by `LoginThrottle.check` while a wait runs; answer 429 with `Retry-After`."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Attempt:
    """A login attempt already counted as a failure (`LoginThrottle.reserve`); hand it to
    `succeeded` if the password was right."""

    keys: dict[str, store.Key]
    counted: tuple[str, ...]  # the kinds whose counts it raised


@dataclass(frozen=True)
class Rule:
    free: int  # failures before any wait
    cap_s: float  # the longest wait

    def wait_s(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return min(self.cap_s, 2.0 ** min(failures - self.free, 62))


class LoginThrottle:
    """Call `reserve` before verifying a password, then `succeeded` if it was right (a wrong one
    needs nothing more: it is already counted). Each touches the database: call them off the
    event loop. `clock` is injectable so tests move time."""

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

    def reserve(self, username: str, ip: str) -> Attempt:
        """Before the password is checked: raise `LoginLocked` if this attempt must wait, else
        count it as a failure, both in one locked transaction (so parallel attempts cannot all
        pass the check before any of them is counted)."""
        now = self._clock()
        keys = store.keys(username, ip)
        with self._database.session() as session:
            rows = self._locked(session, keys)
            self._refuse_while_waiting(rows, now)  # raising rolls back: a refused attempt counts nothing
            counted = self._count(rows, now)
            store.forget_old(session, failed_before=now - FORGET_AFTER, now=now)
        return Attempt(keys=keys, counted=counted)

    def check(self, username: str, ip: str) -> None:
        """Raise `LoginLocked` if an attempt now would wait; counts nothing (a look, for tools and
        tests: a login must `reserve`, or parallel attempts all pass this together)."""
        keys = store.keys(username, ip)
        with self._database.session() as session:
            found = store.find(session, [keys[kind] for kind in KINDS])
            self._refuse_while_waiting({kind: found.get(keys[kind]) for kind in KINDS}, self._clock())

    def failed(self, username: str, ip: str) -> None:
        """Count a failure without the check (what `reserve` does after it)."""
        now = self._clock()
        with self._database.session() as session:
            self._count(self._locked(session, store.keys(username, ip)), now)
            store.forget_old(session, failed_before=now - FORGET_AFTER, now=now)

    def succeeded(self, attempt: Attempt) -> None:
        """The reserved attempt was right: clear its pair's count and remember the address as the
        account's; the account's and the address's counts only lose this attempt. The rest stays:
        one good login must not give a guesser fresh tries."""
        now = self._clock()
        with self._database.session() as session:
            rows = self._locked(session, attempt.keys)
            store.mark_known(rows[store.PAIR], until=now + KNOWN_FOR)
            for kind in attempt.counted:
                if kind != store.PAIR:
                    store.uncount_failure(rows[kind], wait_s=self.rules[kind].wait_s)

    @staticmethod
    def _locked(session: DbSession, keys: dict[str, store.Key]) -> dict[str, LoginAttempt]:
        rows = store.locked_rows(session, [keys[kind] for kind in KINDS])
        return {kind: rows[keys[kind]] for kind in KINDS}

    @staticmethod
    def _refuse_while_waiting(rows: Mapping[str, LoginAttempt | None], now: datetime) -> None:
        """Raise `LoginLocked` if a wait runs; the longest wait that applies wins."""
        pair = rows[store.PAIR]
        known = pair is not None and pair.known_until is not None and pair.known_until > now
        # From an address this account logged in from, only that pair's own failures count.
        kinds = (store.PAIR,) if known else KINDS
        kind, wait = max(((kind, _remaining(rows[kind], now)) for kind in kinds), key=lambda item: item[1])
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise LoginLocked(f"{MESSAGES[kind]}: try again in {seconds} s", retry_after=seconds)

    def _count(self, rows: Mapping[str, LoginAttempt], now: datetime) -> tuple[str, ...]:
        """Count one failure on the locked rows; returns the kinds counted."""
        counted = [store.PAIR]
        pair_failures = self._count_one(rows, store.PAIR, now)
        # Past its free failures an address is slowed by its own pair; counting those for the
        # account too would let one address slow the owner everywhere else.
        if pair_failures <= self.rules[store.PAIR].free:
            self._count_one(rows, store.ACCOUNT, now)
            counted.append(store.ACCOUNT)
        self._count_one(rows, store.ADDRESS, now)
        counted.append(store.ADDRESS)
        return tuple(counted)

    def _count_one(self, rows: Mapping[str, LoginAttempt], kind: str, now: datetime) -> int:
        return store.count_failure(rows[kind], now=now, forget_after=FORGET_AFTER, wait_s=self.rules[kind].wait_s)


def _remaining(row: LoginAttempt | None, now: datetime) -> float:
    if row is None or row.blocked_until is None:
        return 0.0
    return max(0.0, (row.blocked_until - now).total_seconds())
