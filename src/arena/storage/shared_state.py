"""The Redis connection that several server processes share (ARENA_REDIS_URL), and the one
translation of its failures: every Redis error becomes `SharedStateUnavailable` (503,
Retry-After), so callers fail closed instead of counting alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from arena.errors import SharedStateUnavailable

# Short: a request waiting on an unreachable Redis should hear 503 quickly, not hang.
CONNECT_TIMEOUT_S: Final = 2.0
COMMAND_TIMEOUT_S: Final = 2.0
UNREACHABLE: Final = "the shared state (Redis) is unreachable just now; try again shortly"


def connect(url: str) -> aioredis.Redis:
    """A client for `url` (no connection is made until the first command)."""
    return aioredis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=COMMAND_TIMEOUT_S,
        health_check_interval=30,
        decode_responses=True,
    )


@asynccontextmanager
async def shared_state_errors() -> AsyncIterator[None]:
    """Around Redis calls: any Redis failure (or timeout) is `SharedStateUnavailable`."""
    try:
        yield
    except (RedisError, OSError, TimeoutError) as exc:
        raise SharedStateUnavailable(UNREACHABLE) from exc
