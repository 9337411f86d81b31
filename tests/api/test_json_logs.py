"""ARENA_LOG_FORMAT=json: a real `arena serve` writes one JSON object per line, every line about
a request carries that request's id (the one its X-Request-ID answered), and after a whole
workload (a failed login, a comparison, a cloud judge that fails, a search, a scrape) no line
holds a prompt, an answer, a password, a key, a cookie or a search term."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from arena.web.observability.log_format import json_formatter
from tests.support.doubles.cloud import CloudDouble
from tests.support.doubles.ollama import OllamaDouble
from tests.support.process import arena_process

pytestmark = pytest.mark.timeout(180)
PASSWORD = "pw-Correct-Horse-6620"
WRONG_PASSWORD = "pw-Wrong-Guess-1187"
PROMPT = "Explain-the-Quetzalcoatl-tides"
ANSWER = ("Marzipan", "-Ostrich", "-Lighthouse")
SEARCH_TERM = "Skerryvore-bonus-query"
CLOUD_KEY = "sk-ant-WRONG-KEY-4471"  # the double refuses it and echoes it back, as some gateways do
LLAMA = "ollama:llama3.2:1b"
QWEN = "ollama:qwen2.5:0.5b"


@pytest.fixture
def cloud() -> Iterator[CloudDouble]:
    double = CloudDouble(keys={"v1": "sk-ant-the-right-one"})
    double.start()
    try:
        yield double
    finally:
        double.stop()


def test_json_lines_carry_request_ids_and_nothing_secret(
    tmp_path: Path, double: OllamaDouble, cloud: CloudDouble
) -> None:
    double.reply = ANSWER
    judges = [{"name": "anthropic", "provider": "anthropic", "base_url": cloud.url, "api_key_env": "ANTHROPIC_API_KEY"}]
    env = {
        **os.environ,
        "ARENA_DATA_DIR": str(tmp_path / "data"),
        "ARENA_LOG_FORMAT": "json",
        "ARENA_AUTH_MODE": "users",
        "ARENA_EMBEDDED": "false",
        "OLLAMA_HOST": double.url,
        "ARENA_CLOUD_JUDGES": json.dumps(judges),
        "ANTHROPIC_API_KEY": CLOUD_KEY,
    }
    subprocess.run(
        [sys.executable, "-m", "arena", "user", "add", "root", "--role", "admin", "--password-stdin"],
        input=f"{PASSWORD}\n".encode(),
        env=env,
        check=True,
        capture_output=True,
    )
    log = tmp_path / "server.log"
    with log.open("wb") as sink, arena_process(tmp_path / "data", env=env, output=sink) as (_process, url):
        seen = _workload(url)

    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(record) for record in records)
    requests = [r for r in records if r["logger"] in ("arena.web.requests", "uvicorn.access")]
    assert len(requests) >= 2 * 7 and all(r.get("request_id") for r in requests)

    # The failed login: its 401 line, its audit entry's line and its X-Request-ID are one id.
    failed = _about(records, seen["failed_login"])
    assert {"status": 401, "route": "/api/auth/login"}.items() <= _line(failed, "arena.web.requests").items()
    assert "login.failure" in _line(failed, "arena.web.audit_events")["message"]
    # The comparison: one line per finished generation, with model and engine, by the user.
    compared = _about(records, seen["compare"])
    generations = [r for r in compared if r["logger"] == "arena.web.generations"]
    assert sorted(r["model"] for r in generations) == [LLAMA, QWEN]
    assert all(r["engine"] == "ollama" and r["status"] == "ok" and r["tokens"] == 3 for r in generations)
    assert _line(compared, "arena.web.requests") | {"user": "root", "route": "/api/stream_chat"} == _line(
        compared, "arena.web.requests"
    )
    # The cloud judge that failed was logged (as the request that it answered).
    assert _line(_about(records, seen["judge"]), "arena.web.requests")["status"] >= 400

    text = "\n".join(lines)
    for secret in (PASSWORD, WRONG_PASSWORD, PROMPT, *ANSWER, SEARCH_TERM, CLOUD_KEY, seen["cookie"], seen["csrf"]):
        assert secret not in text, f"{secret[:8]}… is in the server log"


def _about(records: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    return [record for record in records if record.get("request_id") == request_id]


def _line(records: list[dict[str, Any]], logger: str) -> dict[str, Any]:
    matching = [record for record in records if record["logger"] == logger]
    assert matching, f"no {logger} line for this request"
    return matching[0]


def _workload(url: str) -> dict[str, str]:
    """Returns the request ids (and the session's cookie and CSRF token) to look for."""
    seen: dict[str, str] = {}
    with httpx.Client(base_url=url, timeout=60) as client:
        wrong = client.post("/api/auth/login", json={"username": "root", "password": WRONG_PASSWORD})
        assert wrong.status_code == 401
        seen["failed_login"] = wrong.headers["x-request-id"]
        login = client.post("/api/auth/login", json={"username": "root", "password": PASSWORD})
        assert login.status_code == 200
        seen["cookie"] = client.cookies["arena_session"]
        seen["csrf"] = login.json()["csrf_token"]
        csrf = {"X-CSRF-Token": seen["csrf"]}
        body = {"message": PROMPT, "models": [LLAMA, QWEN]}
        with client.stream("POST", "/api/stream_chat", json=body, headers=csrf) as response:
            assert response.status_code == 200
            streamed = response.read().decode()
        assert "Marzipan" in streamed  # the answer went out: the check below can fail
        seen["compare"] = response.headers["x-request-id"]
        judge = {
            "prompt": PROMPT,
            "answers": [{"key": "a", "text": "".join(ANSWER)}, {"key": "b", "text": "no"}],
            "cloud": {"endpoint": "anthropic", "model": "claude-judge-1"},
            "allow_cloud": True,
        }
        judged = client.post("/api/judge", json=judge, headers=csrf)
        assert judged.status_code >= 400, judged.text
        seen["judge"] = judged.headers["x-request-id"]
        assert client.get("/api/conversations", params={"search": SEARCH_TERM}).status_code == 200
        assert client.get("/metrics").status_code == 200
        assert client.get("/api/no-such-page").status_code == 404
    return seen


def test_the_formatter_drops_fields_named_like_secrets_and_redacts_query_strings() -> None:
    """The last guard, for a log call that would pass a secret or a text as a field."""
    record = logging.LogRecord(
        "arena.test", logging.WARNING, __file__, 1, "GET %s failed", ("/x?search=Skerryvore",), None
    )
    for name, value in {
        "password": "pw-1",
        "api_key": "k-2",
        "prompt": "p-3",
        "answer_text": "a-4",
        "model": "m",
    }.items():
        setattr(record, name, value)
    line = json.loads(json_formatter().format(record))
    assert line["message"] == "GET /x?[redacted] failed" and line["model"] == "m"
    assert not {"password", "api_key", "prompt", "answer_text"} & set(line)
