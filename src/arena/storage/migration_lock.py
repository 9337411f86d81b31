"""One migration at a time, whatever starts at once: the workers of `arena serve --workers N`,
several hosts on one PostgreSQL, a CLI command beside the server.

PostgreSQL: a session-level advisory lock on its own connection (every host sees it).
SQLite: an exclusive `flock` on a file beside the database (one host: SQLite is not shared
across hosts). The lock covers the whole of `Database.migrate`: the upgrade, the key check and
the audit key's creation, which would otherwise race too.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from sqlalchemy import Engine, text

from arena.storage.private_files import create_private

# Any fixed 64-bit number the arena alone uses (the first bytes of "llm-arena" in ASCII).
ADVISORY_LOCK_KEY: Final = 0x6C6C6D2D6172656E


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            connection.commit()  # the lock is the session's, not the transaction's
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
                connection.commit()
        return
    database_file = engine.url.database
    if engine.dialect.name == "sqlite" and database_file not in (None, "", ":memory:") and not database_file.startswith("file:"):
        lock_file = Path(database_file).with_name(Path(database_file).name + ".migrate-lock")
        create_private(lock_file)
        with lock_file.open("r+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, or the process dies
            yield
        return
    yield  # an in-memory database belongs to one process
