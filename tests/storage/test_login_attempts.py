"""The login throttle's counting rules, on SQLite and PostgreSQL: waits that double per
(account, address), a short one per account that an address the account logged in from never
sees, one per address for spraying; counts that survive a restart and `unlock` clears."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from arena import accounts
from arena.storage.auth_models import LoginAttempt
from arena.storage.db import Database
from arena.web.auth.throttle import FORGET_AFTER, LoginLocked, LoginThrottle, Rule

PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def throttle_for(database: Database, clock: Clock) -> LoginThrottle:
    return LoginThrottle(database, free_failures=3, max_delay_s=60, account_delay_s=10, clock=clock)


def fail(throttle: LoginThrottle, times: int, *, username: str = "ada", ip: str = "10.0.0.1") -> None:
    for _ in range(times):
        throttle.failed(username, ip)


def wait_of(throttle: LoginThrottle, username: str, ip: str) -> int:
    try:
        throttle.check(username, ip)
    except LoginLocked as locked:
        return locked.retry_after
    return 0


def test_waits_double_from_the_free_failures_up_to_the_cap() -> None:
    rule = Rule(free=3, cap_s=60)
    assert [rule.wait_s(n) for n in range(1, 11)] == [0, 0, 1, 2, 4, 8, 16, 32, 60, 60]
    assert rule.wait_s(10_000) == 60  # no overflow, however long the attack


def test_counts_survive_a_restart_and_unlock_clears_them(database: Database, clock: Clock) -> None:
    accounts.add_user(database, username="ada", password=PASSWORD, role="admin")
    fail(throttle_for(database, clock), 3)
    restarted = throttle_for(database, clock)
    assert wait_of(restarted, "ada", "10.0.0.1") == 1  # this pair: 3 free failures, then 1 s
    fail(restarted, 9, ip="10.0.0.9")  # an address adds only its 3 free failures to the account…
    assert wait_of(restarted, "ada", "10.0.0.2") == 1  # …6 so far, the account's free ones: 1 s
    fail(restarted, 3, ip="10.0.0.10")
    fail(restarted, 3, ip="10.0.0.11")
    assert wait_of(restarted, "ada", "10.0.0.2") == 10  # the account-wide cap
    assert wait_of(restarted, "ada", "10.0.0.9") == 60  # that pair's own cap
    assert accounts.unlock(database, username="ADA").username == "ada"
    assert [wait_of(restarted, "ada", ip) for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.9")] == [0, 0, 0]


def test_a_login_makes_the_address_known_to_the_account_and_only_its_own_failures_count_there(
    database: Database, clock: Clock
) -> None:
    throttle = throttle_for(database, clock)
    throttle.succeeded(throttle.reserve("ada", "10.0.0.7"))
    for n in range(20):  # guessing from twenty addresses: the account slows down…
        clock.advance(10)
        throttle.check("ada", f"10.1.0.{n}")
        fail(throttle, 1, ip=f"10.1.0.{n}")
    assert wait_of(throttle, "ada", "10.0.0.99") == 10
    assert wait_of(throttle, "ada", "10.0.0.7") == 0  # …but not for the owner's address
    fail(throttle, 3, ip="10.0.0.7")  # the owner's own typos still count there
    assert wait_of(throttle, "ada", "10.0.0.7") == 1
    clock.advance(31 * 24 * 3600)  # a month later the address is no longer known
    for n in range(7):
        fail(throttle, 1, ip=f"10.2.0.{n}")
    assert wait_of(throttle, "ada", "10.0.0.7") == 2


def test_a_success_resets_only_its_pair(database: Database, clock: Clock) -> None:
    throttle = throttle_for(database, clock)
    for n in range(11):  # 11 names from one address: past 3 × 4 free ones would be 12
        fail(throttle, 1, username=f"user{n}", ip="10.0.0.66")
    throttle.succeeded(throttle.reserve("mallory", "10.0.0.66"))  # the sprayer's own account
    fail(throttle, 1, username="user-last", ip="10.0.0.66")
    assert wait_of(throttle, "someone", "10.0.0.66") == 1  # the address still counts
    for n in range(5):
        fail(throttle, 1, username="bob", ip=f"10.3.0.{n}")
    throttle.succeeded(throttle.reserve("bob", "10.3.0.0"))
    fail(throttle, 1, username="bob", ip="10.3.0.5")
    assert wait_of(throttle, "bob", "10.3.0.200") == 1  # and so does the account, elsewhere


def test_unknown_names_are_counted_like_real_ones(database: Database, clock: Clock) -> None:
    accounts.add_user(database, username="ada", password=PASSWORD, role="admin")
    throttle = throttle_for(database, clock)
    fail(throttle, 3, username="ada")
    fail(throttle, 3, username="nobody-at-all")
    assert wait_of(throttle, "ada", "10.0.0.1") == wait_of(throttle, "nobody-at-all", "10.0.0.1") == 1


def test_failures_are_forgotten_a_while_after_the_last_one(database: Database, clock: Clock) -> None:
    throttle = throttle_for(database, clock)
    fail(throttle, 2)
    fail(throttle, 1, username="ghost-name", ip="10.9.9.9")
    clock.advance(FORGET_AFTER.total_seconds() + 1)
    fail(throttle, 2)  # 2 + 2, but the first two are forgotten: still free
    assert wait_of(throttle, "ada", "10.0.0.1") == 0
    with database.session() as session:  # and rows with nothing recent are gone
        ghosts = session.scalar(select(func.count()).select_from(LoginAttempt).where(LoginAttempt.address == "10.9.9.9"))
    assert ghosts == 0


def test_an_attempt_is_counted_before_its_password_is_checked_and_a_right_one_takes_it_back(
    database: Database, clock: Clock
) -> None:
    throttle = throttle_for(database, clock)
    reserved = [throttle.reserve("ada", "10.0.0.1") for _ in range(3)]  # none answered yet
    with pytest.raises(LoginLocked):  # the fourth waits: the three are already counted
        throttle.reserve("ada", "10.0.0.1")
    assert wait_of(throttle, "ada", "10.0.0.2") == 0  # 3 of the account's 6 free ones
    throttle.succeeded(reserved[-1])  # the last one was right: the pair is forgiven…
    assert wait_of(throttle, "ada", "10.0.0.1") == 0
    for n in range(3):  # …and the account and the address lost only that one attempt
        fail(throttle, 1, ip=f"10.0.1.{n}")
    assert wait_of(throttle, "ada", "10.0.0.2") == 0  # 2 + 3 = 5 < 6
    fail(throttle, 1, ip="10.0.1.9")
    assert wait_of(throttle, "ada", "10.0.0.2") == 1


def test_parallel_reservations_are_counted_one_by_one(database: Database, clock: Clock) -> None:
    throttle = throttle_for(database, clock)
    gate = threading.Barrier(12)

    def reserve(_: int) -> bool:
        gate.wait()
        try:
            throttle.reserve("ada", "10.0.0.1")
        except LoginLocked:
            return False
        return True

    with ThreadPoolExecutor(max_workers=12) as pool:
        passed = list(pool.map(reserve, range(12)))
    assert passed.count(True) == 3  # the pair's free failures, however the twelve interleave
    with database.session() as session:
        pair = session.scalar(select(LoginAttempt).where(LoginAttempt.kind == "pair"))
    assert pair is not None and pair.failures == 3
