"""Passwords, session cookies, API tokens, cloud keys and Authorization headers never reach the
server's log output (or its database file): a real `arena serve` process, its stdout and stderr
captured while a user logs in, fails to, makes and uses a token, and points a judge at a cloud key."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.process import arena_process

PASSWORD = "pw-Correct-Horse-7141"
WRONG_PASSWORD = "pw-Wrong-Guess-9052"
NEW_USER_PASSWORD = "pw-New-User-3377"
ENDPOINT_KEY = "sk-endpoint-SECRET-5521"
CLOUD_KEY = "sk-cloud-SECRET-8830"
LEGACY_TOKEN = "legacy-bearer-SECRET-4410"


def test_no_secret_reaches_the_logs_or_the_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    log = tmp_path / "server.log"
    encryption_key = base64.b64encode(secrets.token_bytes(32)).decode()
    env = {
        **os.environ,
        "ARENA_DATA_DIR": str(data_dir),
        "OLLAMA_HOST": "http://127.0.0.1:9",
        "ARENA_EMBEDDED": "false",
        "ARENA_AUTH_MODE": "users",
        "ARENA_OPENAI_ENDPOINTS": "cloudy=http://127.0.0.1:9/v1",
        "ARENA_OPENAI_KEY_CLOUDY": ENDPOINT_KEY,
        "ARENA_CLOUD_JUDGES": "closed=openai_compatible@http://127.0.0.1:9/v1",
        "ARENA_ENCRYPTION_KEY": encryption_key,
        "WEB_CHAT_TOKEN": LEGACY_TOKEN,
    }
    subprocess.run(
        [sys.executable, "-m", "arena", "user", "add", "root", "--role", "admin", "--password-stdin"],
        input=f"{PASSWORD}\n".encode(),
        env=env,
        check=True,
        capture_output=True,
    )
    with log.open("wb") as sink, arena_process(data_dir, env=env, output=sink) as (_process, url):
        token = _exercise(url)

    output = log.read_text(errors="replace")
    assert "POST /api/auth/login" in output  # the log was written: the check below can fail
    assert "401" in output
    database_bytes = b"".join(p.read_bytes() for p in data_dir.glob("arena.db*"))
    for secret in (
        PASSWORD,
        WRONG_PASSWORD,
        NEW_USER_PASSWORD,
        ENDPOINT_KEY,
        CLOUD_KEY,
        LEGACY_TOKEN,
        token,
        encryption_key,
    ):
        assert secret not in output, f"a secret is in the server log: {secret[:6]}…"
        assert secret.encode() not in database_bytes, f"a secret is in the database file: {secret[:6]}…"


def _exercise(url: str) -> str:
    """Everything that carries a secret, succeeding and failing; returns the API token made."""
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.post("/api/auth/login", json={"username": "root", "password": WRONG_PASSWORD}).status_code == 401
        assert client.get("/api/models", headers={"Authorization": f"Bearer {LEGACY_TOKEN}"}).status_code == 401
        login = client.post("/api/auth/login", json={"username": "root", "password": PASSWORD})
        assert login.status_code == 200
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        made = client.post("/api/auth/tokens", json={"name": "ci"}, headers=csrf)
        assert made.status_code == 201
        token = made.json()["token"]
        added = client.post(
            "/api/users", json={"username": "newbie", "password": NEW_USER_PASSWORD, "role": "viewer"}, headers=csrf
        )
        assert added.status_code == 201
        short = client.post("/api/users", json={"username": "x", "password": "tiny"}, headers=csrf)
        assert short.status_code == 400
    with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as script:
        assert script.get("/api/models").status_code == 200  # asks the keyed endpoint (down)
        judged = script.post(
            "/api/judge",
            json={
                "prompt": "2+2?",
                "answers": [{"key": "a", "text": "4"}],
                "mode": "single",
                "cloud": {"endpoint": "closed", "model": "gpt-x", "api_key": CLOUD_KEY},
                "allow_cloud": True,
            },
        )
        assert judged.status_code == 503, judged.text  # it went to the configured endpoint, where nothing listens
        assert CLOUD_KEY not in judged.text
        assert script.get("/api/nothing-here").status_code == 404
        assert script.post("/api/chat", content=b"{not json").status_code == 422
    return token


SEARCH_TERM = "Skerryvore-salary-dispute"


def test_search_terms_and_other_query_strings_stay_out_of_the_access_log(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    env = {"ARENA_EMBEDDED": "false", "ARENA_AUTH_MODE": "none"}
    with log.open("wb") as sink, arena_process(tmp_path / "data", env=env, output=sink) as (_process, url):
        with httpx.Client(base_url=url, timeout=30) as client:
            assert client.get("/api/conversations", params={"search": SEARCH_TERM}).status_code == 200
            assert client.get("/api/conversations", params={"search": f"{SEARCH_TERM} pay"}).status_code == 200
            assert client.get("/api/no-such-thing", params={"q": SEARCH_TERM}).status_code == 404

    output = log.read_text(errors="replace")
    assert '"GET /api/conversations?[redacted] HTTP/1.1" 200' in output  # path and status stay
    assert '"GET /api/no-such-thing?[redacted] HTTP/1.1" 404' in output
    assert "Skerryvore" not in output, "a search term is in the server log"
