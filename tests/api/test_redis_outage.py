"""Redis gone: fail closed. Chat, login and wrong bearer tokens get 503 with Retry-After and a JSON error (never a
500, never a pass without counting), liveness stays 200 and readiness says 503; Redis back:
everything passes again without restarting a process, and a stream that ran through the outage
can be stopped from the other process once more."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.support.accounts import PASSWORD
from tests.support.doubles.ollama import OllamaDouble
from tests.support.faults import ServedArena
from tests.support.redis_server import RedisServer
from tests.support.server import ndjson_lines
from tests.support.shared_state import two_arenas

ASK = {"message": "hi", "model_instances": [{"model": "ollama:llama3.2:1b", "num_predict": 2}]}  # quick
LONG = {"message": "Count.", "model_instances": [{"model": "ollama:qwen2.5:0.5b"}]}
QWEN_ID = "ollama_qwen2.5_0.5b__0.7_0.9_40_1.1_-1_0"
EVE = {"username": "eve", "password": PASSWORD}


def login(arena: ServedArena) -> httpx.Client:
    client = arena.client()
    answer = client.post("/api/auth/login", json=EVE)
    assert answer.status_code == 200, answer.text
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return client


def eventually(ask: Callable[[], httpx.Response], status: int, *, within_s: float) -> httpx.Response:
    deadline = time.monotonic() + within_s
    while True:
        answer = ask()
        if answer.status_code == status or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def fresh_login(arena: ServedArena) -> httpx.Response:
    with arena.client() as client:
        return client.post("/api/auth/login", json=EVE)


def assert_unavailable(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["Retry-After"]) >= 1
    assert "Redis" in answer.json()["error"]


@pytest.mark.timeout(120)
def test_redis_down_fails_closed_and_redis_back_serves_again(tmp_path: Path, double: OllamaDouble) -> None:
    redis = RedisServer(tmp_path / "redis")  # the test's own: stopping it touches no other test
    redis.start()
    double.reply, double.token_delay = [f" w{i}" for i in range(400)], 0.05
    try:
        with two_arenas(tmp_path / "data", double_url=double.url, redis_url=redis.url, accounts=True) as (a, b):
            with (
                closing(login(a)) as at_a,
                closing(login(b)) as at_b,
                at_b.stream("POST", "/api/stream_chat?format=arena", json=LONG) as long,
            ):
                token = at_a.post("/api/auth/tokens", json={"name": "script"}).json()["token"]
                by_token = {"Authorization": f"Bearer {token}"}
                lines = ndjson_lines(long)
                turn_id = next(lines)["turn_id"]
                next(lines)  # it generates, on B

                redis.stop()
                assert_unavailable(at_a.post("/api/chat", json=ASK))
                assert_unavailable(fresh_login(a))
                with b.client() as script:  # a wrong bearer token must be counted, or refused
                    assert_unavailable(script.get("/api/conversations", headers={"Authorization": "Bearer arena_x"}))
                    # A right one costs nothing to count: it goes on, like reading with a session.
                    assert script.get("/api/conversations", headers=by_token).status_code == 200
                    assert at_b.get("/api/conversations").status_code == 200  # reading with a session goes on
                assert at_a.get("/api/health/live").status_code == 200
                ready = eventually(lambda: at_a.get("/api/health/ready"), 503, within_s=3)
                assert (ready.status_code, ready.json()) == (
                    503, {"status": "not ready", "database": "ok", "redis": "unavailable"},
                )  # fmt: skip
                health = at_a.get("/api/health")  # v3's check: not "healthy" while chats are refused
                assert (health.status_code, health.json()["status"], health.json()["redis"]) == (
                    503, "unhealthy", "unavailable",
                )  # fmt: skip

                redis.start()  # the same port, empty: nothing of before survived
                assert eventually(lambda: at_a.post("/api/chat", json=ASK), 200, within_s=10).status_code == 200
                assert fresh_login(a).status_code == 200
                ready = eventually(lambda: at_a.get("/api/health/ready"), 200, within_s=3)
                assert ready.json() == {"status": "ready", "database": "ok", "redis": "ok"}
                assert at_a.get("/api/health").json()["status"] == "healthy"
                # B announces its stream again once Redis is back, so A can stop it.
                stop_it = {"turn_id": turn_id, "key": QWEN_ID}
                stop = eventually(lambda: at_a.post("/api/stop", json=stop_it), 200, within_s=10)
                assert stop.json() == {"stopped": True}
                end = [e for e in lines if e["done"]]
            assert end and end[0]["status"] == "stopped"
    finally:
        redis.stop()
