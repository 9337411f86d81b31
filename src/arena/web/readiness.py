"""Are the database and Redis answering? Quick checks for /api/health and /api/health/ready.

They must answer fast when the server is busy and when what they check is gone, so they never
wait in line with requests: the database check runs in its own thread on its own connection
(no pool: a pool full of busy requests would read as "down"), the Redis PING in its own task;
each runs one check at a time shared by every caller, keeps a result for CACHE_S, and waits at
most TIMEOUT_S (a check still hanging then reads as "down").
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

import redis.asyncio as aioredis
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from arena.storage.db import Database

TIMEOUT_S: Final = 1.0
CACHE_S: Final = 1.0
CONNECT_TIMEOUT_S: Final = 2


class Probe:
    """One check at a time, shared by every caller; its result kept for CACHE_S."""

    def __init__(self) -> None:
        self._checking: asyncio.Future[Any] | None = None
        self._last: tuple[float, bool] | None = None

    def _check(self) -> asyncio.Future[Any]:
        """Start one check; it fails (or hangs) when what it checks is down."""
        raise NotImplementedError

    async def ok(self) -> bool:
        now = time.monotonic()
        if self._last is not None and now - self._last[0] < CACHE_S:
            return self._last[1]
        if self._checking is None or self._checking.done():
            self._checking = self._check()
            # A check that fails after its callers stopped waiting: its error is read here, not warned about.
            self._checking.add_done_callback(lambda done: done.cancelled() or done.exception())
        try:
            await asyncio.wait_for(asyncio.shield(self._checking), TIMEOUT_S)
            healthy = True
        except Exception:  # a timeout, or the checked server's own error: either way, not ready
            healthy = False
        self._last = (time.monotonic(), healthy)
        return healthy


class RedisProbe(Probe):
    """PING on the app's Redis client, in a task of its own."""

    def __init__(self, redis: aioredis.Redis) -> None:
        super().__init__()
        self._redis = redis

    def _check(self) -> asyncio.Future[Any]:
        return asyncio.ensure_future(self._redis.ping())


class DatabaseProbe(Probe):
    def __init__(self, database: Database) -> None:
        super().__init__()
        self._url = database.url
        self._engine: Engine | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readiness")

    def _check(self) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().run_in_executor(self._executor, self._ping)

    def _ping(self) -> None:
        if self._engine is None:
            connect_args = {"connect_timeout": CONNECT_TIMEOUT_S} if self._url.get_backend_name() != "sqlite" else {}
            self._engine = create_engine(self._url, poolclass=NullPool, connect_args=connect_args)
        with self._engine.connect() as connection:
            # A read of a real table: on SQLite, "SELECT 1" would not even open the file.
            connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._engine is not None:
            self._engine.dispose()
