"""Rate limits per user (or per address without accounts).

Each app holds its own `RateLimits` on `app.state` (see `install_rate_limits`), so two apps in
one process never share counts. Refusals are 429 with `Retry-After`. The budget of generations
running at once is `web/auth/budget.py`.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, FastAPI, Request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from arena.settings import Settings
from arena.web.auth.authentication import LOGIN_BUCKET, current_principal, login_rate_key
from arena.web.auth.principal import Principal
from arena.web.auth.refusals import too_many_requests as too_many_requests

logger = logging.getLogger(__name__)

# (method, route path) → bucket. Routes not listed here are not rate limited.
BUCKETS: Final[dict[tuple[str, str], str]] = {
    ("POST", "/api/chat"): "chat",
    ("POST", "/api/stream_chat"): "chat",
    ("POST", "/api/judge"): "judge",
    ("POST", "/api/judge/stream"): "judge",
    ("POST", "/api/pull_model"): "pull",
    ("POST", "/api/models/pull"): "pull",
    ("POST", "/api/render"): "render",
}
# A shared WEB_CHAT_TOKEN shorter than this is worth a warning: the login limit slows guessing,
# it cannot make a short secret long.
SHORT_TOKEN_CHARS: Final = 24


@dataclass(frozen=True)
class Refusal:
    bucket: str
    limit: RateLimitItem
    retry_after: int

    @property
    def limit_text(self) -> str:
        return describe(self.limit)

    @property
    def message(self) -> str:
        return f"Too many {self.bucket} requests: the limit is {self.limit_text}; try again in {self.retry_after} s"


class Reservation:
    """One request held against a bucket while it is judged (see `RateLimits.reserve`):
    `settle(counted=True)` counts it, `settle(counted=False)` lets it go; only the first call acts."""

    def __init__(self, limits: RateLimits | None, bucket: str, key: str, refusal: Refusal | None = None) -> None:
        self._limits = limits
        self._bucket = bucket
        self._key = key
        self.refusal = refusal  # set when the bucket was already spent: nothing is held

    def settle(self, *, counted: bool) -> None:
        limits, self._limits = self._limits, None
        if limits is not None:
            limits._settle(self._bucket, self._key, counted=counted)


class RateLimits:
    """Moving-window limits per bucket, counted per key (a `Principal.rate_key`)."""

    def __init__(self, limits: Mapping[str, str]) -> None:
        """`limits` maps a bucket to a rate in the `limits` notation, or "off"."""
        self._limits = {bucket: parse_many(rate) for bucket, rate in limits.items() if rate != "off"}
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._pending: Counter[tuple[str, str]] = Counter()

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        return cls(
            {
                "chat": settings.rate_limit_chat,
                "judge": settings.rate_limit_judge,
                "pull": settings.rate_limit_pull,
                "render": settings.rate_limit_render,
                LOGIN_BUCKET: settings.rate_limit_login,
            }
        )

    def hit(self, bucket: str, key: str) -> Refusal | None:
        """Count one request; a `Refusal` (and no count) when any of the bucket's limits is spent.

        Called on the event loop with no await between test and hit, so the pair is atomic."""
        refusal = self._refusal(bucket, key)
        if refusal is None:
            for item in self._limits.get(bucket, []):
                self._limiter.hit(item, bucket, key)
        return refusal

    def reserve(self, bucket: str, key: str) -> Reservation:
        """Hold one request's place in the bucket while something slow decides whether it counts
        (a bearer token looked up in a thread counts only if it is wrong). Places held count as
        spent, so a burst cannot pass the test together before any of it is counted."""
        refusal = self._refusal(bucket, key)
        if refusal is not None:
            return Reservation(None, bucket, key, refusal)
        self._pending[(bucket, key)] += 1
        return Reservation(self, bucket, key)

    def _settle(self, bucket: str, key: str, *, counted: bool) -> None:
        self._pending[(bucket, key)] -= 1
        if self._pending[(bucket, key)] <= 0:
            del self._pending[(bucket, key)]  # no entry left behind per caller ever seen
        if counted:
            for item in self._limits.get(bucket, []):
                self._limiter.hit(item, bucket, key)

    def _refusal(self, bucket: str, key: str) -> Refusal | None:
        cost = 1 + self._pending.get((bucket, key), 0)  # this request, and the places held
        for item in self._limits.get(bucket, []):
            if not self._limiter.test(item, bucket, key, cost=cost):
                return Refusal(bucket=bucket, limit=item, retry_after=self._retry_after(item, bucket, key))
        return None

    def _retry_after(self, item: RateLimitItem, bucket: str, key: str) -> int:
        reset_at = self._limiter.get_window_stats(item, bucket, key).reset_time  # epoch seconds
        return max(1, math.ceil(reset_at - time.time()))


def install_rate_limits(app: FastAPI, settings: Settings) -> None:
    app.state.rate_limits = RateLimits.from_settings(settings)
    warn_about_short_token(settings)


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
        raise too_many_requests(refusal.message, retry_after=refusal.retry_after, bucket=bucket)


def warn_about_short_token(settings: Settings) -> None:
    """A short shared token is guessable however slowly guesses go: say so at start-up. Not
    refused, so existing v3 set-ups keep starting."""
    token = settings.web_chat_token
    if settings.auth_mode == "token" and token is not None and len(token.get_secret_value()) < SHORT_TOKEN_CHARS:
        logger.warning(
            "WEB_CHAT_TOKEN is shorter than %d characters: failed tokens are limited per address "
            "(ARENA_RATE_LIMIT_LOGIN), but a short token can still be guessed; use a long random one "
            "(python -c 'import secrets; print(secrets.token_urlsafe(32))')",
            SHORT_TOKEN_CHARS,
        )


async def enforce_login_rate_limit(request: Request) -> None:
    """For the login route: counted per address, since the caller is nobody yet."""
    refusal = request.app.state.rate_limits.hit(LOGIN_BUCKET, login_rate_key(request))
    if refusal is not None:
        raise too_many_requests(
            f"Too many login attempts: the limit is {refusal.limit_text}; try again in {refusal.retry_after} s",
            retry_after=refusal.retry_after,
            bucket=LOGIN_BUCKET,
        )
