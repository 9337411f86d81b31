"""An arena in `users` mode with one account per role, and logged-in clients for them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from arena import accounts
from arena.engines.router import Router
from arena.storage.db import Database
from tests.support.server import RunningArena, make_settings, running_arena

PASSWORD = "correct horse battery"
# username → role; "rival" is a second evaluator, to own (or be refused) another's things.
ACCOUNTS = {"ada": "admin", "eve": "evaluator", "rival": "evaluator", "vic": "viewer"}


def create_accounts(settings_data_dir: Path, database_url: str | None = None, **_: Any) -> None:
    database = Database(url=database_url or f"sqlite:///{settings_data_dir / 'arena.db'}")
    try:
        database.migrate()
        for username, role in ACCOUNTS.items():
            accounts.add_user(database, username=username, password=PASSWORD, role=role)
    finally:
        database.dispose()


@contextmanager
def users_arena(data_dir: Path, *, router: Router | None = None, **overrides: Any) -> Iterator[RunningArena]:
    settings = make_settings(data_dir, auth_mode_setting="users", **overrides)
    create_accounts(data_dir, settings.database_url)
    with running_arena(settings, router=router) as running:
        yield running


@dataclass
class Session:
    """A logged-in browser-like client: the cookie jar plus the CSRF token to send on changes."""

    client: httpx.Client
    csrf_token: str

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.client.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf_token, **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)


def login(arena: RunningArena, username: str, password: str = PASSWORD) -> Session:
    client = arena.client()
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return Session(client=client, csrf_token=response.json()["csrf_token"])


def api_token(arena: RunningArena, username: str, name: str = "script") -> str:
    session = login(arena, username)
    try:
        response = session.request("POST", "/api/auth/tokens", json={"name": name})
        assert response.status_code == 201, response.text
        return response.json()["token"]
    finally:
        session.client.close()
