"""Login lockout: repeated failures lock an account name, and an address trying many names."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.web.auth.throttle import IP_FAILURE_FACTOR, LoginLocked, LoginThrottle
from tests.support.server import make_settings

LOCKOUT_S = 15 * 60


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(clock: Clock) -> LoginThrottle:
    return LoginThrottle(max_failures=5, lockout_s=LOCKOUT_S, clock=clock)


def fail(throttle: LoginThrottle, times: int, *, username: str = "alice", ip: str = "10.0.0.1") -> None:
    for _ in range(times):
        throttle.check(username, ip)
        throttle.failed(username, ip)


def test_the_fifth_failure_locks_the_account_for_the_lockout(throttle: LoginThrottle, clock: Clock) -> None:
    fail(throttle, 4)
    throttle.check("alice", "10.0.0.1")  # four wrong passwords: still allowed
    throttle.failed("alice", "10.0.0.1")
    with pytest.raises(LoginLocked) as locked:
        throttle.check("alice", "10.0.0.1")
    assert locked.value.retry_after == LOCKOUT_S
    assert "Too many failed logins for this account" in str(locked.value)

    # Another address does not get around it: the account itself is locked.
    with pytest.raises(LoginLocked):
        throttle.check("alice", "10.0.0.2")
    throttle.check("bob", "10.0.0.1")  # other accounts are not

    clock.advance(LOCKOUT_S - 1)
    with pytest.raises(LoginLocked) as almost:
        throttle.check("alice", "10.0.0.1")
    assert almost.value.retry_after == 1
    clock.advance(1)
    throttle.check("alice", "10.0.0.1")


def test_after_a_lockout_the_count_starts_again(throttle: LoginThrottle, clock: Clock) -> None:
    fail(throttle, 5)
    clock.advance(LOCKOUT_S)
    fail(throttle, 4)
    throttle.check("alice", "10.0.0.1")


def test_old_failures_age_out_of_the_window(throttle: LoginThrottle, clock: Clock) -> None:
    fail(throttle, 4)
    clock.advance(LOCKOUT_S + 1)
    fail(throttle, 4)
    throttle.check("alice", "10.0.0.1")


def test_a_successful_login_clears_the_accounts_count(throttle: LoginThrottle) -> None:
    fail(throttle, 4)
    throttle.succeeded("alice", "10.0.0.1")
    fail(throttle, 4)
    throttle.check("alice", "10.0.0.1")


def test_case_and_spaces_do_not_give_a_name_fresh_guesses(throttle: LoginThrottle) -> None:
    for name in ("alice", "Alice", " ALICE", "alice ", "aLiCe"):
        throttle.failed(name, "10.0.0.1")
    with pytest.raises(LoginLocked):
        throttle.check("alice", "10.0.0.9")


def test_spraying_many_names_from_one_address_locks_the_address(throttle: LoginThrottle) -> None:
    budget = 5 * IP_FAILURE_FACTOR
    for index in range(budget - 1):
        fail(throttle, 1, username=f"user{index}", ip="10.0.0.66")
    throttle.check("someone-new", "10.0.0.66")
    throttle.failed("someone-new", "10.0.0.66")
    with pytest.raises(LoginLocked) as locked:
        throttle.check("yet-another", "10.0.0.66")
    assert "from this address" in str(locked.value)
    assert locked.value.retry_after == LOCKOUT_S
    # The names it tried are not locked for their owners elsewhere: one failure each.
    throttle.check("user0", "10.0.0.7")


def test_a_success_does_not_reset_the_addresses_count(throttle: LoginThrottle) -> None:
    budget = 5 * IP_FAILURE_FACTOR
    for index in range(budget - 1):
        fail(throttle, 1, username=f"user{index}", ip="10.0.0.66")
    throttle.succeeded("mallory", "10.0.0.66")  # the sprayer's own account
    throttle.failed("user-last", "10.0.0.66")
    with pytest.raises(LoginLocked):
        throttle.check("mallory", "10.0.0.66")


def test_built_from_settings(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, login_max_failures=2, login_lockout_minutes=1)
    throttle = LoginThrottle.from_settings(settings)
    for _ in range(2):
        throttle.failed("alice", "10.0.0.1")
    with pytest.raises(LoginLocked) as locked:
        throttle.check("alice", "10.0.0.1")
    assert 59 <= locked.value.retry_after <= 60
