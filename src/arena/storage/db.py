"""The connection to the database: engine, sessions, migrations.

SQLite (the default, one file under the data directory) and PostgreSQL (when
``DATABASE_URL`` says so) are both configured here, so nothing above this module knows which
one it talks to. One ``Database`` is shared by all threads; each ``session()`` call gets its
own SQLAlchemy ``Session``. With a ``Keyring`` the sensitive columns are encrypted
(``encrypted_types.py``); ``migrate()`` then also checks the key opens what is stored, and
loads (or makes) the audit log's signing key.

Only its owner may read the data: the data directory is kept 0700 and the SQLite file 0600
(``private_files``); SQLite gives its ``-wal`` and ``-shm`` files the database file's mode.
``migrate()`` runs under a lock (``migration_lock``), so processes starting together never race.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

import arena.storage.schema  # noqa: F401 - every table registered before the first session
from arena.storage.audit import open_signed_log
from arena.storage.battles import rebuild_if_needed
from arena.storage.crypto import Keyring, load_key
from arena.storage.encrypted_types import use_keyring
from arena.storage.migration_lock import migration_lock
from arena.storage.private_files import create_private, make_private, private_dir
from arena.storage.reencrypt import check_keys
from arena.storage.touch import listen_for_changes

if TYPE_CHECKING:
    from arena.settings import Settings

MIGRATIONS_DIR: Final = Path(__file__).parent / "migrations"
# Long enough to ride out another thread's commit, short enough to report a real deadlock.
SQLITE_BUSY_TIMEOUT_MS: Final = 15_000

listen_for_changes()  # a vote, a verdict or the reveal moves its conversation's updated_at


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

    def __init__(
        self, *, url: str, echo: bool = False, keyring: Keyring | None = None, audit_key_file: Path | None = None
    ) -> None:
        """``audit_key_file``: sign the audit log with the key there (``migrate`` loads or makes
        it); without one, this database can read the log but not append to it."""
        self.url: URL = make_url(url)
        self.keyring = keyring
        self.audit_key_file = audit_key_file
        sqlite_file = _sqlite_file(self.url)
        if sqlite_file is not None:
            sqlite_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Made 0600 before SQLite opens it: SQLite copies this mode to the -wal and -shm files.
            create_private(sqlite_file)
            for suffix in ("-wal", "-shm", "-journal"):
                make_private(sqlite_file.with_name(sqlite_file.name + suffix))
        if self.is_sqlite:
            self.engine: Engine = create_engine(
                self.url, echo=echo, hide_parameters=True, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
            )
            event.listen(self.engine, "connect", _configure_sqlite_connection)
        else:
            # pre_ping: a PostgreSQL restart must not leave dead connections in the pool.
            # hide_parameters (both): an error message never quotes a prompt or an answer.
            self.engine = create_engine(self.url, echo=echo, pool_pre_ping=True, hide_parameters=True)
        # On the dialect, where the column types find it: each engine has its own.
        use_keyring(self.engine, keyring)
        # The server process writing answers through this database (process_leases.py), if any.
        self.process_id: str | None = None
        self.process_host: str | None = None  # its machine, recorded with each answer
        # Objects stay readable after the session closes: callers get them back from a
        # storage function whose session is already gone.
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def for_settings(cls, settings: Settings, *, sign_audit: bool = True) -> Database:
        """The configured database, with the configured encryption key (EncryptionKeyError if unusable),
        in a private data directory. ``sign_audit=False`` (for ``arena audit verify``): the audit
        key is neither loaded nor made."""
        private_dir(settings.data_dir)
        secret = settings.encryption_key.get_secret_value() if settings.encryption_key is not None else None
        key = load_key(key=secret, key_file=settings.encryption_key_file)
        return cls(
            url=settings.resolved_database_url,
            keyring=None if key is None else Keyring.of(key),
            audit_key_file=settings.resolved_audit_key_file if sign_audit else None,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.url.get_backend_name()

    def migrate(self) -> None:
        """Bring the schema to the newest revision (Alembic ``upgrade head``); safe to repeat.

        Then fail with EncryptionKeyError if something stored is encrypted with a key this
        database was not given, so a wrong key stops start-up rather than a later request; and
        open the audit log for signing (AuditKeyError if its key file is missing or wrong).
        """
        with migration_lock(self.engine):  # several workers starting at once: one migrates, the others wait
            config = self.alembic_config()
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            check_keys(self.engine)
            with self.session() as session:  # migration 0024's backfill, with this code's rules
                rebuild_if_needed(session)
            if self.audit_key_file is not None:
                open_signed_log(self, self.audit_key_file.expanduser())

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
        session = self._sessions(info={"process_id": self.process_id, "process_host": self.process_host})
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
