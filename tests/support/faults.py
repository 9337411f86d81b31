"""Real arenas on a real database, with faults injected into that database.

`database_url(kind, tmp_path)` gives a PostgreSQL schema of the test's own (its connections
named, so `terminate_connections` kills those and no other test's) or None for SQLite (the data
directory's file). `serve_arena(settings)` runs the app on it and hands the test the app's own
`Database`, so a fault reaches exactly the connections the server uses.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, event, make_url, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from arena.settings import Settings
from arena.storage import answer_end
from arena.storage.db import Database
from arena.storage.models import utcnow
from arena.storage.process_leases import LEASE_S
from arena.storage.process_models import ServerProcess
from arena.web.app import SERVER_OPTIONS, create_app
from tests.support.db_fixtures import make_database
from tests.support.server import make_settings, serving

STREAM_TIMEOUT = httpx.Timeout(20.0)  # a stream that hangs fails the test instead


@contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str | None]:
    """A blank database for `kind`: None (SQLite in the data directory) or a PostgreSQL URL."""
    if kind == "sqlite":
        yield None
        return
    with make_database("postgresql", tmp_path / "pg", migrate=False) as database:
        url = database.url.update_query_dict({"application_name": f"arena-{uuid.uuid4().hex[:12]}"})
        yield url.render_as_string(hide_password=False)


def settings_for(data_dir: Path, url: str | None, double_url: str, **overrides: Any) -> Settings:
    """Settings for an arena whose only engine is an Ollama double."""
    return make_settings(data_dir, database_url=url, ollama_hosts=[double_url], embedded_enabled=False, **overrides)


@dataclass
class ServedArena:
    url: str
    database: Database  # the server's own
    app: FastAPI

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=STREAM_TIMEOUT)


@contextmanager
def serve_arena(settings: Settings, *, prepare: Callable[[FastAPI], None] | None = None) -> Iterator[ServedArena]:
    database = Database.for_settings(settings)
    app = create_app(settings, database=database)
    if prepare is not None:
        prepare(app)
    with serving(app, what="the arena server", lifespan="on", **SERVER_OPTIONS) as url:
        yield ServedArena(url=url, database=database, app=app)


def database_gone(*, statement: str = "UPDATE responses") -> OperationalError:
    return OperationalError(statement, {}, Exception("server closed the connection unexpectedly"))


def failing_final_writes(monkeypatch: pytest.MonkeyPatch, *, times: int | None = None) -> list[int]:
    """The stream recorder's final write (`answer_end.close_response`) fails as if the database
    were gone: `times` times, or always. Returns the list of failed calls' response ids, which
    grows as they happen."""
    failed: list[int] = []
    real = answer_end.close_response

    def close_response(session: Any, *, response_id: int, **values: Any) -> Any:
        if times is None or len(failed) < times:
            failed.append(response_id)
            raise database_gone()
        return real(session, response_id=response_id, **values)

    monkeypatch.setattr(answer_end, "close_response", close_response)
    return failed


def make_read_only(database: Database) -> None:
    """SQLite from now on refuses every write ("attempt to write a readonly database")."""

    def query_only(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA query_only = ON")

    event.listen(database.engine, "connect", query_only)
    database.engine.dispose()  # connections already open reconnect, read-only


def terminate_connections(database: Database) -> int:
    """pg_terminate_backend on every connection the server has open now (by its application_name)."""
    name = make_url(database.url).query["application_name"]
    admin = create_engine(database.url.difference_update_query(["application_name"]), poolclass=NullPool)
    try:
        with admin.begin() as connection:
            killed = connection.execute(
                text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :name"),
                {"name": name},
            ).scalar_one()
    finally:
        admin.dispose()
    return int(killed)


def expire_leases(settings: Settings) -> None:
    """Let every lease on the settings' database run out, as LEASE_S of silence would."""
    database = Database.for_settings(settings)
    try:
        with database.session() as session:
            session.execute(update(ServerProcess).values(heartbeat_at=utcnow() - timedelta(seconds=LEASE_S + 1)))
    finally:
        database.dispose()
