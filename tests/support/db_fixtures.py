"""Test databases: a SQLite file under ``tmp_path``, or a real PostgreSQL.

Other test folders reuse them by importing the fixtures into their own conftest.py::

    from tests.support.db_fixtures import (  # noqa: F401
        blank_database, database, migrated_postgres_database, migrated_sqlite_file)

or by calling ``make_database(kind, tmp_path)`` themselves. PostgreSQL comes from
``ARENA_TEST_POSTGRES_URL`` (``.ci/postgres.sh`` starts one and prints it). Without it the
PostgreSQL cases are skipped on a workstation, and fail under CI, which must never skip them
silently.

Each PostgreSQL database lives in a schema of its own (named ``test_<random>``), so parallel
test processes never see each other's rows. Migrating costs tenths of a second, so ``database``
migrates once per test process: SQLite tests get a copy of a migrated file, PostgreSQL tests
share one migrated schema whose tables are emptied before each test.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from arena.storage.db import Database
from arena.storage.models import Base

POSTGRES_URL_ENV = "ARENA_TEST_POSTGRES_URL"
# A zone with a half-hour offset, so any code that forgets UTC shows up in PostgreSQL tests.
POSTGRES_SESSION_TIME_ZONE = "America/St_Johns"

DATABASE_PARAMS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


def _running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def postgres_url() -> str:
    """The test PostgreSQL's URL; skips the test (fails it under CI) when none is configured."""
    url = os.environ.get(POSTGRES_URL_ENV, "").strip()
    if url:
        return url
    reason = f"{POSTGRES_URL_ENV} not set"
    if _running_in_ci():
        pytest.fail(f"{reason}: CI must run the PostgreSQL tests (start one with .ci/postgres.sh)")
    pytest.skip(reason)


@contextmanager
def _postgres_schema(base_url: str) -> Iterator[str]:
    """A new, empty schema for one test, dropped with everything in it afterwards."""
    schema = f"test_{uuid.uuid4().hex[:20]}"
    admin = create_engine(base_url, poolclass=NullPool)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield schema
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def make_database(kind: str, tmp_path: Path, *, migrate: bool = True) -> Iterator[Database]:
    """An empty ``Database`` of ``kind`` ("sqlite" or "postgresql"), migrated unless told not to."""
    if kind == "sqlite":
        database = Database(url=f"sqlite:///{tmp_path / 'data' / 'arena.db'}")
        try:
            if migrate:
                database.migrate()
            yield database
        finally:
            database.dispose()
    elif kind == "postgresql":
        base_url = postgres_url()
        with _postgres_schema(base_url) as schema:
            # Each test sees only its own schema: tables, alembic_version and all.
            url = make_url(base_url).update_query_dict(
                {"options": f"-csearch_path={schema} -ctimezone={POSTGRES_SESSION_TIME_ZONE}"}
            )
            database = Database(url=url.render_as_string(hide_password=False))
            try:
                if migrate:
                    database.migrate()
                yield database
            finally:
                database.dispose()
    else:
        raise ValueError(f"unknown database kind {kind!r}")


def delete_all_rows(database: Database) -> None:
    """Empty every table the models know, children first, keeping the schema."""
    with database.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file to copy; use ``database`` instead."""
    with make_database("sqlite", tmp_path_factory.mktemp("sqlite-template")) as db:
        assert db.url.database is not None
        path = Path(db.url.database)
    # dispose() closed the last connection, which folds the WAL back into the main file.
    return path


@pytest.fixture(scope="session")
def migrated_postgres_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """One migrated PostgreSQL schema for this test process; use ``database`` instead."""
    with make_database("postgresql", tmp_path_factory.mktemp("postgres")) as db:
        yield db


@pytest.fixture(params=DATABASE_PARAMS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database with no rows; every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "postgresql":
        shared: Database = request.getfixturevalue("migrated_postgres_database")
        delete_all_rows(shared)
        yield shared
        return
    path = tmp_path / "data" / "arena.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(request.getfixturevalue("migrated_sqlite_file"), path)
    db = Database(url=f"sqlite:///{path}")
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture(params=DATABASE_PARAMS)
def blank_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database with no tables at all, not even alembic_version."""
    with make_database(request.param, tmp_path, migrate=False) as db:
        yield db
