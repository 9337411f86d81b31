"""Guessing bearer tokens is as slow as guessing passwords: wrong tokens (the shared
WEB_CHAT_TOKEN, or API tokens in users mode) draw on the per-address login limit
(ARENA_RATE_LIMIT_LOGIN), are audited, and past the limit every wrong token from that address is
answered 429 (the right one still passes: tests/api/test_token_lockout.py). A short
WEB_CHAT_TOKEN is warned about at start-up."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from arena import accounts
from arena.storage import audit
from arena.storage.db import Database
from arena.web.app import create_app
from tests.support.accounts import users_arena
from tests.support.server import RunningArena, make_settings, running_arena

TOKEN = "bearer-guessing-test-token-0123456789"
OTHER_ADDRESS = "127.0.0.2"


def client_from(arena: RunningArena, address: str) -> httpx.Client:
    return arena.client(transport=httpx.HTTPTransport(local_address=address))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_failures(database: Database) -> list[dict[str, object]]:
    with database.session() as session:
        page = audit.list_entries(session, limit=500, action=audit.TOKEN_FAILURE)
    return [{"actor": e.actor, "ip": e.ip, "detail": e.detail} for e in page.entries]


def test_wrong_shared_tokens_spend_the_login_limit_and_then_get_429(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, web_chat_token=TOKEN, embedded_enabled=False, rate_limit_login="5/minute")
    with running_arena(settings) as arena, arena.client() as client, client_from(arena, OTHER_ADDRESS) as other:
        # Right tokens cost nothing: a script may call as often as it likes.
        assert all(client.get("/api/conversations", headers=bearer(TOKEN)).status_code == 200 for _ in range(8))
        statuses = [client.get("/api/conversations", headers=bearer(f"guess{n}")).status_code for n in range(8)]
        # Before: 401 for ever (300 guesses at ~420/s, none refused).
        assert statuses == [401] * 5 + [429] * 3
        refused = client.get("/api/conversations", headers=bearer("guess-again"))
        assert refused.status_code == 429
        assert refused.json()["error"].startswith("Too many failed logins or tokens from this address")
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert client.get("/api/conversations").status_code == 401  # no token sent: nothing guessed
        assert client.get("/api/conversations", headers=bearer(TOKEN)).status_code == 200  # never locked out
        assert other.get("/api/conversations", headers=bearer("guess-there")).status_code == 401  # another address
        with arena.database() as database:
            failures = token_failures(database)
    expected = [
        {"actor": "anonymous", "ip": ip, "detail": {"reason": "wrong token"}}
        for ip in ["127.0.0.2"] + ["127.0.0.1"] * 5
    ]
    assert failures == expected  # newest first


def test_a_burst_of_wrong_api_tokens_is_compared_only_up_to_the_limit(isolated_environment: Path) -> None:
    with users_arena(isolated_environment, embedded_enabled=False, rate_limit_login="5/minute") as arena:
        with arena.database() as database:
            [account] = [a for a, _ in accounts.list_accounts(database) if a.username == "eve"]
            token, _ = accounts.issue_api_token(database, account=account, name="script")
        gate = threading.Barrier(20)

        def guess(n: int) -> int:
            with arena.client() as client:
                gate.wait()
                return client.get("/api/conversations", headers=bearer(f"arena_guess{n}")).status_code

        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(guess, range(20)))
        # Each failure is counted atomically as it is found, so the burst cannot pass together.
        assert sorted(statuses) == [401] * 5 + [429] * 15
        with arena.client() as client, client_from(arena, OTHER_ADDRESS) as other:
            assert client.get("/api/conversations", headers=bearer(token)).status_code == 200  # the right one
            assert client.post("/api/auth/login", json={"username": "eve", "password": "x"}).status_code == 429
            assert all(other.get("/api/conversations", headers=bearer(token)).status_code == 200 for _ in range(8))
            assert other.get("/api/conversations", headers={"Authorization": "Basic ZXZlOng="}).status_code == 401
        with arena.database() as database:
            reasons = [entry["detail"] for entry in token_failures(database)]
    assert reasons == [{"reason": "not a bearer token"}] + [{"reason": "unknown API token"}] * 5


@pytest.mark.parametrize(("token", "warned"), [("short-token", True), (TOKEN, False)])
def test_a_short_shared_token_is_warned_about_at_start_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, token: str, warned: bool
) -> None:
    caplog.set_level(logging.WARNING)
    create_app(make_settings(tmp_path, web_chat_token=token, embedded_enabled=False))
    warnings = [r.getMessage() for r in caplog.records if "WEB_CHAT_TOKEN is shorter" in r.getMessage()]
    assert bool(warnings) is warned
    assert token not in caplog.text
