"""Is the database answering? A quick check for /api/health and /api/health/ready.

It must answer fast when the server is busy and when the database is gone, so it never waits
in line with requests: its own thread, its own connection (no pool: a pool full of busy
requests would read as "down"), one check at a time shared by every caller, a result kept
for CACHE_S, and at most TIMEOUT_S of waiting (a check still hanging then reads as "down").
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from arena.storage.db import Database

TIMEOUT_S: Final = 1.0
CACHE_S: Final = 1.0
CONNECT_TIMEOUT_S: Final = 2


class DatabaseProbe:
    def __init__(self, database: Database) -> None:
        self._url = database.url
        self._engine: Engine | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readiness")
        self._checking: asyncio.Future[None] | None = None
        self._last: tuple[float, bool] | None = None

    async def ok(self) -> bool:
        now = time.monotonic()
        if self._last is not None and now - self._last[0] < CACHE_S:
            return self._last[1]
        if self._checking is None or self._checking.done():
            self._checking = asyncio.get_running_loop().run_in_executor(self._executor, self._ping)
            # A check that fails after its callers stopped waiting: its error is read here, not warned about.
            self._checking.add_done_callback(lambda done: done.cancelled() or done.exception())
        try:
            await asyncio.wait_for(asyncio.shield(self._checking), TIMEOUT_S)
            healthy = True
        except Exception:  # a timeout, or the database's own error: either way, not ready
            healthy = False
        self._last = (time.monotonic(), healthy)
        return healthy

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
