"""Rate limits per user (or per address without accounts), and a cap on each user's streams.

Each app holds its own `RateLimits` and `StreamCaps` on `app.state` (see `install_rate_limits`),
so two apps in one process never share counts. Refusals are 429 with `Retry-After`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, FastAPI, HTTPException, Request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from arena.settings import Settings
from arena.web.auth.authentication import current_principal
from arena.web.auth.principal import Principal, client_ip

# (method, route path) → bucket. Routes not listed here are not rate limited.
BUCKETS: Final[dict[tuple[str, str], str]] = {
    ("POST", "/api/chat"): "chat",
    ("POST", "/api/stream_chat"): "chat",
    ("POST", "/api/judge"): "judge",
    ("POST", "/api/pull_model"): "pull",
    ("POST", "/api/models/pull"): "pull",
}
LOGIN_BUCKET: Final = "login"
# A client over its stream cap may retry soon: a stream can end at any moment.
STREAM_RETRY_AFTER_S: Final = 1


@dataclass(frozen=True)
class Refusal:
    bucket: str
    limit: RateLimitItem
    retry_after: int

    @property
    def message(self) -> str:
        return f"Too many {self.bucket} requests: the limit is {describe(self.limit)}; try again in {self.retry_after} s"


class RateLimits:
    """Moving-window limits per bucket, counted per key (a `Principal.rate_key`)."""

    def __init__(self, limits: Mapping[str, str]) -> None:
        """`limits` maps a bucket to a rate in the `limits` notation, or "off"."""
        self._limits = {bucket: parse_many(rate) for bucket, rate in limits.items() if rate != "off"}
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        return cls(
            {
                "chat": settings.rate_limit_chat,
                "judge": settings.rate_limit_judge,
                "pull": settings.rate_limit_pull,
                LOGIN_BUCKET: settings.rate_limit_login,
            }
        )

    def hit(self, bucket: str, key: str) -> Refusal | None:
        """Count one request; a `Refusal` (and no count) when any of the bucket's limits is spent.

        Called on the event loop with no await between test and hit, so the pair is atomic."""
        items = self._limits.get(bucket, [])
        for item in items:
            if not self._limiter.test(item, bucket, key):
                return Refusal(bucket=bucket, limit=item, retry_after=self._retry_after(item, bucket, key))
        for item in items:
            self._limiter.hit(item, bucket, key)
        return None

    def _retry_after(self, item: RateLimitItem, bucket: str, key: str) -> int:
        reset_at = self._limiter.get_window_stats(item, bucket, key).reset_time  # epoch seconds
        return max(1, math.ceil(reset_at - time.time()))


class StreamClaim:
    """One generation slot of one caller. `release()` may be called more than once; as an
    (async) context manager it releases on exit."""

    def __init__(self, caps: StreamCaps, key: str) -> None:
        self._caps = caps
        self._key = key
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._caps._give_back(self._key)

    def __enter__(self) -> StreamClaim:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()

    async def __aenter__(self) -> StreamClaim:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.release()


class StreamCaps:
    """How many generations each key is running; used on the event loop only, so no lock."""

    def __init__(self, *, per_key: int) -> None:
        self.per_key = per_key
        self._running: dict[str, int] = {}

    def running(self, key: str) -> int:
        return self._running.get(key, 0)

    def claim(self, key: str) -> StreamClaim:
        """Take a slot, or raise 429 when the key already runs `per_key` generations."""
        if self.running(key) >= self.per_key:
            raise too_many_requests(
                f"Too many generations at once: the limit is {self.per_key} per user "
                "(ARENA_MAX_STREAMS_PER_USER); wait for one to finish",
                retry_after=STREAM_RETRY_AFTER_S,
            )
        self._running[key] = self.running(key) + 1
        return StreamClaim(self, key)

    def _give_back(self, key: str) -> None:
        left = self.running(key) - 1
        if left > 0:
            self._running[key] = left
        else:
            self._running.pop(key, None)  # no entry left behind per caller ever seen


def install_rate_limits(app: FastAPI, settings: Settings) -> None:
    app.state.rate_limits = RateLimits.from_settings(settings)
    app.state.stream_caps = StreamCaps(per_key=settings.max_streams_per_user)


def too_many_requests(message: str, *, retry_after: int) -> HTTPException:
    """A 429 that `web/errors.py` renders as {"error": message}, with Retry-After."""
    return HTTPException(status_code=429, detail=message, headers={"Retry-After": str(retry_after)})


def describe(limit: RateLimitItem) -> str:
    unit = limit.GRANULARITY.name if limit.multiples == 1 else f"{limit.GRANULARITY.name}s"
    return f"{limit.amount} per {limit.multiples} {unit}"


async def enforce_rate_limit(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> None:
    """Router dependency: count this request in its route's bucket, per caller; 429 when spent."""
    route = request.scope.get("route")
    bucket = BUCKETS.get((request.method, getattr(route, "path", "")))
    if bucket is None:
        return
    refusal = request.app.state.rate_limits.hit(bucket, principal.rate_key)
    if refusal is not None:
        raise too_many_requests(refusal.message, retry_after=refusal.retry_after)


async def enforce_login_rate_limit(request: Request) -> None:
    """For the login route: counted per address, since the caller is nobody yet."""
    refusal = request.app.state.rate_limits.hit(LOGIN_BUCKET, f"ip:{client_ip(request)}")
    if refusal is not None:
        raise too_many_requests(
            f"Too many login attempts: the limit is {describe(refusal.limit)}; try again in {refusal.retry_after} s",
            retry_after=refusal.retry_after,
        )


def claim_stream(request: Request, principal: Principal) -> StreamClaim:
    """Take one of the caller's generation slots (429 beyond ARENA_MAX_STREAMS_PER_USER)."""
    caps: StreamCaps = request.app.state.stream_caps
    return caps.claim(principal.rate_key)

