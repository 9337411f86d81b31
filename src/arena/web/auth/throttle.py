"""Login lockout: too many failed logins lock the account name, and more from one address lock it.

Counting is per account name *and* per client address: the first stops guessing one password,
the second slows password spraying (a few guesses at many accounts from one address). Both
count failures inside a sliding window as long as the lockout, so old typos age out. A lock is
kept whether or not the account exists, so a lockout never tells which names are real.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from arena.settings import Settings

# An address may fail this many times the per-account limit (people behind one NAT mistype too).
IP_FAILURE_FACTOR = 4
# Past this many tracked names or addresses, forget those with nothing recent (bounds memory).
MAX_TRACKED = 10_000


class LoginLocked(Exception):
    """Raised by `LoginThrottle.check` while a name or address is locked; answer 429."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class _Counter:
    """Failures inside the window for one name or address, and a lock's end if locked."""

    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class _Tracker:
    def __init__(self, *, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.counters: dict[str, _Counter] = {}

    def remaining_lock(self, key: str, now: float) -> float:
        counter = self.counters.get(key)
        return max(0.0, counter.locked_until - now) if counter else 0.0

    def fail(self, key: str, now: float) -> None:
        counter = self.counters.setdefault(key, _Counter())
        counter.failures.append(now)
        while counter.failures and counter.failures[0] <= now - self.window_s:
            counter.failures.popleft()
        if len(counter.failures) >= self.max_failures:
            counter.locked_until = now + self.window_s
            counter.failures.clear()  # after the lock, a fresh count
        if len(self.counters) > MAX_TRACKED:
            self.forget_idle(now)

    def clear(self, key: str) -> None:
        self.counters.pop(key, None)

    def forget_idle(self, now: float) -> None:
        for key in [k for k, c in self.counters.items() if c.locked_until <= now and not self._recent(c, now)]:
            del self.counters[key]

    def _recent(self, counter: _Counter, now: float) -> bool:
        return bool(counter.failures) and counter.failures[-1] > now - self.window_s


class LoginThrottle:
    """In memory and thread-safe. Call `check` before verifying a password, then `failed` or
    `succeeded`. `clock` is injectable so tests move time instead of sleeping."""

    def __init__(
        self,
        *,
        max_failures: int = 5,
        lockout_s: float = 15 * 60,
        ip_max_failures: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._names = _Tracker(max_failures=max_failures, window_s=lockout_s)
        self._addresses = _Tracker(
            max_failures=ip_max_failures or max_failures * IP_FAILURE_FACTOR, window_s=lockout_s
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginThrottle:
        return cls(max_failures=settings.login_max_failures, lockout_s=settings.login_lockout_minutes * 60)

    def check(self, username: str, ip: str) -> None:
        """Raise `LoginLocked` if this name or this address may not try now."""
        with self._lock:
            now = self._clock()
            name_wait = self._names.remaining_lock(_name_key(username), now)
            address_wait = self._addresses.remaining_lock(ip, now)
        if address_wait > 0:
            raise LoginLocked(
                f"Too many failed logins from this address: try again in {_seconds(address_wait)} s",
                retry_after=_seconds(address_wait),
            )
        if name_wait > 0:
            raise LoginLocked(
                f"Too many failed logins for this account: try again in {_seconds(name_wait)} s",
                retry_after=_seconds(name_wait),
            )

    def failed(self, username: str, ip: str) -> None:
        with self._lock:
            now = self._clock()
            self._names.fail(_name_key(username), now)
            self._addresses.fail(ip, now)

    def succeeded(self, username: str, ip: str) -> None:
        """Clear the account's count. The address keeps its count: one good account of its own
        must not let a sprayer start over."""
        with self._lock:
            self._names.clear(_name_key(username))


def _name_key(username: str) -> str:
    # "Alice" and "alice " must not be separate budgets of guesses.
    return username.strip().casefold()


def _seconds(wait: float) -> int:
    return max(1, math.ceil(wait))
