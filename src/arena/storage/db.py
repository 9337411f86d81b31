"""The connection to the database: engine, sessions, migrations.

SQLite (the default, one file under the data directory) and PostgreSQL (when
``DATABASE_URL`` says so) are both configured here, so nothing above this module knows which
one it talks to. One ``Database`` is shared by all threads; each ``session()`` call gets its
own SQLAlchemy ``Session``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR: Final = Path(__file__).parent / "migrations"
# Long enough to ride out another thread's commit, short enough to report a real deadlock.
SQLITE_BUSY_TIMEOUT_MS: Final = 15_000


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _configure_sqlite_connection(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers go on while one writer streams an answer into the file.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()
    # SQLite's own lower() knows only ASCII; PostgreSQL's knows every script. Case-insensitive
    # search (ILIKE is lower() LIKE lower() on SQLite) must find "Élan" on both.
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)


def _sqlite_file(url: URL) -> Path | None:
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


class Database:
    """One database, opened from a SQLAlchemy URL (``sqlite:///…`` or ``postgresql+psycopg://…``)."""

    def __init__(self, *, url: str, echo: bool = False) -> None:
        self.url: URL = make_url(url)
        sqlite_file = _sqlite_file(self.url)
        if sqlite_file is not None:
            sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        if self.is_sqlite:
            self.engine: Engine = create_engine(
                self.url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
            )
            event.listen(self.engine, "connect", _configure_sqlite_connection)
        else:
            # pre_ping: a PostgreSQL restart must not leave dead connections in the pool.
            self.engine = create_engine(self.url, echo=echo, pool_pre_ping=True)
        # Objects stay readable after the session closes: callers get them back from a
        # repository function whose session is already gone.
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.url.get_backend_name()

    def migrate(self) -> None:
        """Bring the schema to the newest revision (Alembic ``upgrade head``); safe to repeat."""
        config = self.alembic_config()
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def alembic_config(self) -> Config:
        """An Alembic configuration for this database, built in code (no alembic.ini needed)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        # ConfigParser treats % as interpolation; URL-escaped passwords contain it.
        config.set_main_option("sqlalchemy.url", self.url.render_as_string(hide_password=False).replace("%", "%%"))
        return config

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends and rolls back if it raises."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection (at shutdown, or before deleting the file)."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database(url={self.url.render_as_string(hide_password=True)!r})"
