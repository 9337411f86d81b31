"""Rate limits per user (or per address without accounts), through `limits.aio`.

Each app holds its own `RateLimits` on `app.state` (see `install_rate_limits`), so two apps in
one process never share counts, unless they share a Redis (ARENA_REDIS_URL): then every process
counts in the same moving windows, and N per minute is N in all, however many processes serve.
Refusals are 429 with `Retry-After`; an unreachable Redis is 503 (`SharedStateUnavailable`), never
a pass without counting. The budget of generations running at once is `web/auth/budget.py`.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Annotated, Final, Protocol

import redis.asyncio as aioredis
from fastapi import Depends, FastAPI, Request
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from arena.errors import SharedStateUnavailable
from arena.settings import Settings
from arena.storage.redis_namespace import deployment_namespace
from arena.storage.shared_state import shared_state_errors
from arena.web.auth.authentication import LOGIN_BUCKET, SHORT_TOKEN_CHARS, current_principal, login_rate_key
from arena.web.auth.principal import Principal
from arena.web.auth.refusals import too_many_requests as too_many_requests

logger = logging.getLogger(__name__)

# (method, route path) → bucket. Routes not listed here are not rate limited.
BUCKETS: Final[dict[tuple[str, str], str]] = {
    ("POST", "/api/chat"): "chat",
    ("POST", "/api/stream_chat"): "chat",
    ("POST", "/v1/chat/completions"): "chat",
    ("POST", "/api/judge"): "judge",
    ("POST", "/api/judge/stream"): "judge",
    ("POST", "/api/pull_model"): "pull",
    ("POST", "/api/models/pull"): "pull",
    ("POST", "/api/render"): "render",
}
# Keys in a shared Redis, after the deployment's namespace (storage/redis_namespace.py): the
# moving windows (`limits`' own lists) and the places held.
REDIS_PREFIX: Final = "limits"
# A place held in Redis outlives a process that died holding it by at most this long.
HELD_TTL_S: Final = 60


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
    `await settle(counted=True)` counts it, `settle(counted=False)` lets it go; only the first call acts."""

    def __init__(self, limits: RateLimits | None, bucket: str, key: str, refusal: Refusal | None = None) -> None:
        self._limits = limits
        self._bucket = bucket
        self._key = key
        self.refusal = refusal  # set when the bucket was already spent: nothing is held

    async def settle(self, *, counted: bool) -> None:
        """Raises `SharedStateUnavailable` when Redis is gone meanwhile: the answer is then 503,
        whether the token was right or wrong, so nothing is told without being counted."""
        limits, self._limits = self._limits, None
        if limits is not None:
            await limits._settle(self._bucket, self._key, counted=counted)

    async def abandon(self) -> None:
        """Let the place go on the way out of an error; never raises (a place left in Redis expires)."""
        with suppress(SharedStateUnavailable):
            await self.settle(counted=False)


class HeldPlaces(Protocol):
    """Requests held (reserved, not yet counted) per bucket and key."""

    async def add(self, bucket: str, key: str) -> int:
        """Hold one more; returns how many are held now, this one included."""

    async def remove(self, bucket: str, key: str) -> None: ...

    async def count(self, bucket: str, key: str) -> int: ...


class LocalPlaces:
    """Held places of one process (no Redis)."""

    def __init__(self) -> None:
        self._held: Counter[tuple[str, str]] = Counter()

    async def add(self, bucket: str, key: str) -> int:
        self._held[(bucket, key)] += 1
        return self._held[(bucket, key)]

    async def remove(self, bucket: str, key: str) -> None:
        self._held[(bucket, key)] -= 1
        if self._held[(bucket, key)] <= 0:
            del self._held[(bucket, key)]  # no entry left behind per caller ever seen

    async def count(self, bucket: str, key: str) -> int:
        return self._held.get((bucket, key), 0)


class RedisPlaces:
    """Held places shared by every process: one counter per bucket and key (INCR is atomic, so
    two processes reserving at once see different counts and cannot both take the last place)."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def _name(self, bucket: str, key: str) -> str:
        return f"{self._prefix}:held:{bucket}:{key}"

    async def add(self, bucket: str, key: str) -> int:
        async with self._redis.pipeline(transaction=True) as pipe:
            held, _ = await pipe.incr(self._name(bucket, key)).expire(self._name(bucket, key), HELD_TTL_S).execute()
        return int(held)

    async def remove(self, bucket: str, key: str) -> None:
        await self._redis.decr(self._name(bucket, key))

    async def count(self, bucket: str, key: str) -> int:
        return max(0, int(await self._redis.get(self._name(bucket, key)) or 0))


def redis_storage(redis: aioredis.Redis, prefix: str) -> RedisStorage:
    """`limits`' Redis storage over the app's own connection pool (one pool per process, closed
    with the app's client). The URI only picks the implementation: the pool says where Redis is."""
    return RedisStorage(
        "async+redis://",
        implementation="redispy",
        key_prefix=prefix,
        connection_pool=redis.connection_pool,
    )


class RateLimits:
    """Moving-window limits per bucket, counted per key (a `Principal.rate_key`), in memory or,
    given `redis`, in Redis for every process at once."""

    def __init__(
        self, limits: Mapping[str, str], *, redis: aioredis.Redis | None = None, namespace: str = "arena"
    ) -> None:
        """`limits` maps a bucket to a rate in the `limits` notation, or "off"; `namespace`: the
        deployment's, before every Redis key."""
        self._limits = {bucket: parse_many(rate) for bucket, rate in limits.items() if rate != "off"}
        prefix = f"{namespace}:{REDIS_PREFIX}"
        storage: Storage = MemoryStorage() if redis is None else redis_storage(redis, prefix)
        self._limiter = MovingWindowRateLimiter(storage)
        self._held: HeldPlaces = LocalPlaces() if redis is None else RedisPlaces(redis, prefix)

    @classmethod
    def from_settings(cls, settings: Settings, *, redis: aioredis.Redis | None = None) -> RateLimits:
        return cls(
            {
                "chat": settings.rate_limit_chat,
                "judge": settings.rate_limit_judge,
                "pull": settings.rate_limit_pull,
                "render": settings.rate_limit_render,
                LOGIN_BUCKET: settings.rate_limit_login,
            },
            redis=redis,
            namespace=deployment_namespace(settings),
        )

    async def hit(self, bucket: str, key: str) -> Refusal | None:
        """Count one request; a `Refusal` when any of the bucket's limits is spent.

        Each window takes its entry atomically (in Redis, one script), so concurrent requests,
        in one process or several, never pass a limit together. With several limits on one
        bucket, a request refused by a later one stays counted in the earlier ones: a little
        strict, never lenient."""
        if bucket not in self._limits:
            return None
        async with shared_state_errors():
            refusal = await self._refusal(bucket, key, cost=1 + await self._held.count(bucket, key))
            return refusal or await self._count(bucket, key)

    async def reserve(self, bucket: str, key: str) -> Reservation:
        """Hold one request's place in the bucket while something slow decides whether it counts
        (a short shared token counts only if it is wrong). Places held count as
        spent, so a burst cannot pass the test together before any of it is counted."""
        if bucket not in self._limits:
            return Reservation(None, bucket, key)
        async with shared_state_errors():
            held = await self._held.add(bucket, key)
            try:
                refusal = await self._refusal(bucket, key, cost=held)
            except BaseException:
                with suppress(Exception):
                    await self._held.remove(bucket, key)
                raise
            if refusal is not None:
                await self._held.remove(bucket, key)
                return Reservation(None, bucket, key, refusal)
        return Reservation(self, bucket, key)

    async def _settle(self, bucket: str, key: str, *, counted: bool) -> None:
        async with shared_state_errors():
            if counted:  # counted before the place goes, so that it is never neither
                await self._count(bucket, key)
            await self._held.remove(bucket, key)

    async def _count(self, bucket: str, key: str) -> Refusal | None:
        for item in self._limits.get(bucket, []):
            if not await self._limiter.hit(item, bucket, key):
                return Refusal(bucket=bucket, limit=item, retry_after=await self._retry_after(item, bucket, key))
        return None

    async def _refusal(self, bucket: str, key: str, *, cost: int) -> Refusal | None:
        for item in self._limits.get(bucket, []):
            if not await self._limiter.test(item, bucket, key, cost=cost):
                return Refusal(bucket=bucket, limit=item, retry_after=await self._retry_after(item, bucket, key))
        return None

    async def _retry_after(self, item: RateLimitItem, bucket: str, key: str) -> int:
        reset_at = (await self._limiter.get_window_stats(item, bucket, key)).reset_time  # epoch seconds
        return max(1, math.ceil(reset_at - time.time()))


def install_rate_limits(app: FastAPI, settings: Settings) -> None:
    """In Redis when the app has a client for it (`app.state.redis`), else in memory."""
    app.state.rate_limits = RateLimits.from_settings(settings, redis=getattr(app.state, "redis", None))
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
    refusal = await request.app.state.rate_limits.hit(bucket, principal.rate_key)
    if refusal is not None:
        raise too_many_requests(refusal.message, retry_after=refusal.retry_after, bucket=bucket)


def warn_about_short_token(settings: Settings) -> None:
    """A short shared token is guessable however slowly guesses go: say so at start-up. Not
    refused, so existing v3 set-ups keep starting."""
    token = settings.web_chat_token
    if settings.auth_mode == "token" and token is not None and len(token.get_secret_value()) < SHORT_TOKEN_CHARS:
        logger.warning(
            "WEB_CHAT_TOKEN is shorter than %d characters: failed tokens are limited per address "
            "(ARENA_RATE_LIMIT_LOGIN), but a short token can still be guessed, and once an address's "
            "limit is spent even the right token is refused there; use a long random one "
            "(python -c 'import secrets; print(secrets.token_urlsafe(32))')",
            SHORT_TOKEN_CHARS,
        )


async def enforce_login_rate_limit(request: Request) -> None:
    """For the login route: counted per address, since the caller is nobody yet."""
    refusal = await request.app.state.rate_limits.hit(LOGIN_BUCKET, login_rate_key(request))
    if refusal is not None:
        raise too_many_requests(
            f"Too many login attempts: the limit is {refusal.limit_text}; try again in {refusal.retry_after} s",
            retry_after=refusal.retry_after,
            bucket=LOGIN_BUCKET,
        )
