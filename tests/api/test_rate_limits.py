"""Rate limits per caller (ARENA_RATE_LIMIT_*), the per-user stream cap, and a flood that
leaves everyone else served. Callers are told apart by address (auth mode "none"): a second
client connects from 127.0.0.2, which is loopback too."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from arena import accounts
from arena.settings import Settings, describe_validation_error
from arena.storage.db import Database
from arena.web.app import create_app
from arena.web.auth.limits import BUCKETS, RateLimits, enforce_login_rate_limit, install_rate_limits
from arena.web.auth.principal import Principal
from arena.web.errors import install_error_handlers
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import module_double
from tests.support.server import RunningArena, make_settings, ndjson_lines, running_arena

LLAMA = "ollama:llama3.2:1b"
ASK = {"message": "hi", "models": [LLAMA]}
OTHER_ADDRESS = "127.0.0.2"


# One double for the whole module: its arena and its tests see the same one.
double = module_double


@pytest.fixture(autouse=True)
def quick_replies(double: OllamaDouble) -> None:
    double.reply, double.token_delay, double.first_token_delay = ["Hi", " there"], 0.0, 0.0


def arena_with(tmp_path: Path, double: OllamaDouble, **overrides: object) -> AbstractContextManager[RunningArena]:
    return running_arena(make_settings(tmp_path, ollama_hosts=[double.url], embedded_enabled=False, **overrides))


def client_from(arena: RunningArena, address: str) -> httpx.Client:
    """A client whose requests come from `address` (another caller, to the server)."""
    return arena.client(transport=httpx.HTTPTransport(local_address=address))


def assert_too_many(response: httpx.Response, message_start: str) -> int:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["Retry-After"])
    assert retry_after >= 1
    error = response.json()["error"]
    assert error.startswith(message_start), error
    return retry_after


def test_the_fourth_chat_request_in_a_minute_is_429_with_retry_after(tmp_path: Path, double: OllamaDouble) -> None:
    with arena_with(tmp_path, double, rate_limit_chat="3/minute") as arena, arena.client() as client:
        for _ in range(3):
            assert client.post("/api/chat", json=ASK).status_code == 200
        refused = client.post("/api/chat", json=ASK)
        retry_after = assert_too_many(refused, "Too many chat requests: the limit is 3 per 1 minute; try again in ")
        assert 55 <= retry_after <= 60
        assert refused.json()["error"].endswith(f"try again in {retry_after} s")
        # Streaming shares the chat budget, and a refused request writes nothing.
        assert_too_many(client.post("/api/stream_chat", json=ASK), "Too many chat requests")
        assert len(client.get("/api/conversations").json()["conversations"]) == 3

        # Other buckets, and routes outside any bucket, still answer.
        assert client.get("/api/health").status_code == 200
        assert client.get("/api/models").status_code == 200
        assert client.get("/api/conversations").status_code == 200
        with client.stream("POST", "/api/models/pull", json={"model": "no-such-model"}) as pull:
            assert pull.status_code == 200  # the pull began; the double then says the name is unknown
            assert "no-such-model" in list(ndjson_lines(pull))[-1]["error"]
        judge = client.post("/api/judge", json={"judge_model": LLAMA, "mode": "pairwise"})
        assert judge.status_code not in (429, 500), judge.text


def test_each_caller_has_its_own_budget(tmp_path: Path, double: OllamaDouble) -> None:
    with arena_with(tmp_path, double, rate_limit_chat="2/minute") as arena:
        with arena.client() as first, client_from(arena, OTHER_ADDRESS) as second:
            for _ in range(2):
                assert first.post("/api/chat", json=ASK).status_code == 200
            assert first.post("/api/chat", json=ASK).status_code == 429
            for _ in range(2):
                assert second.post("/api/chat", json=ASK).status_code == 200
            assert second.post("/api/chat", json=ASK).status_code == 429


def test_two_accounts_from_one_address_have_separate_budgets(tmp_path: Path, double: OllamaDouble) -> None:
    with arena_with(tmp_path, double, auth_mode_setting="users", rate_limit_chat="2/minute") as arena:
        database = Database.for_settings(arena.settings)
        tokens = []
        for name in ("alice", "bob"):
            account = accounts.add_user(database, username=name, password="a long enough password", role="evaluator")
            tokens.append(accounts.issue_api_token(database, account=account, name="test")[0])
        database.dispose()
        with arena.client() as client:
            for token in tokens:
                auth = {"Authorization": f"Bearer {token}"}
                assert [client.post("/api/chat", json=ASK, headers=auth).status_code for _ in range(3)] == [200, 200, 429]
            # Nobody: refused as unknown (401) before counting, so it spends no one's budget.
            assert client.post("/api/chat", json=ASK).status_code == 401


def test_repeated_wrong_passwords_make_that_address_wait(tmp_path: Path, double: OllamaDouble) -> None:
    with arena_with(tmp_path, double, auth_mode_setting="users", login_max_failures=3) as arena:
        database = Database.for_settings(arena.settings)
        accounts.add_user(database, username="alice", password="the right password", role="evaluator")
        database.dispose()
        with arena.client() as client:
            wrong = {"username": "alice", "password": "a wrong password"}
            assert [client.post("/api/auth/login", json=wrong).status_code for _ in range(3)] == [401, 401, 401]
            # Then a wait that doubles with each failure (1, 2, 4 … s; tests/api/test_login_throttle.py):
            # the attempt after one is refused before the password is checked, and says for how long.
            answers = [client.post("/api/auth/login", json=wrong) for _ in range(4)]
            waited = [a for a in answers if a.status_code == 429]
            assert waited, [a.status_code for a in answers]
            assert 1 <= int(waited[0].headers["Retry-After"]) <= 8
            assert "Too many failed logins" in waited[0].json()["error"]


@pytest.mark.anyio
async def test_limits_count_per_rate_key() -> None:
    limits = RateLimits({"chat": "2/minute"})
    alice = Principal(user_id=1, username="alice", role="evaluator", via="session", client_ip="10.0.0.1")
    bob = Principal(user_id=2, username="bob", role="evaluator", via="session", client_ip="10.0.0.1")
    assert [await limits.hit("chat", alice.rate_key) for _ in range(2)] == [None, None]
    refusal = await limits.hit("chat", alice.rate_key)
    assert refusal is not None and refusal.bucket == "chat" and 1 <= refusal.retry_after <= 60
    # Same address, other account: counted apart, because accounts are keyed by user.
    assert await limits.hit("chat", bob.rate_key) is None
    assert await limits.hit("judge", alice.rate_key) is None  # a bucket with no limit set


@pytest.mark.anyio
async def test_several_limits() -> None:
    limits = RateLimits({"chat": "5/minute;2/second", "pull": "off"})
    assert [await limits.hit("chat", "ip:x") is None for _ in range(3)] == [True, True, False]
    refusal = await limits.hit("chat", "ip:x")
    assert refusal is not None and "the limit is 2 per 1 second" in refusal.message
    assert all([await limits.hit("pull", "ip:x") is None for _ in range(50)])


def test_a_limit_turned_off(tmp_path: Path, double: OllamaDouble) -> None:
    with arena_with(tmp_path, double, rate_limit_chat="off") as arena, arena.client() as client:
        # Cheap refused-for-content requests still pass the limiter: none is a 429.
        statuses = {client.post("/api/chat", json={"message": "hi"}).status_code for _ in range(30)}
        assert statuses == {400}


def test_a_mistyped_limit_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARENA_RATE_LIMIT_JUDGE", "30/minit")
    with pytest.raises(ValidationError) as error:
        Settings(_env_file=None)
    message = describe_validation_error(error.value)
    assert message.startswith("ARENA_RATE_LIMIT_JUDGE:")
    assert "30/minute" in message and "'30/minit'" in message


def test_every_limited_route_exists(tmp_path: Path) -> None:
    """A renamed route would silently lose its limit."""
    app = create_app(make_settings(tmp_path, embedded_enabled=False))
    paths = app.openapi()["paths"]
    routes = {(method.upper(), path) for path, operations in paths.items() for method in operations}
    assert set(BUCKETS) <= routes


def test_a_stream_over_the_per_user_cap_is_429_while_the_others_go_on(tmp_path: Path, double: OllamaDouble) -> None:
    double.reply, double.token_delay = [f" w{i}" for i in range(12)], 0.1
    with arena_with(tmp_path, double, max_streams_per_user=2) as arena:
        with arena.client() as client, client_from(arena, OTHER_ADDRESS) as other:
            with (
                client.stream("POST", "/api/stream_chat", json=ASK) as first,
                client.stream("POST", "/api/stream_chat", json=ASK) as second,
            ):
                running = [ndjson_lines(first), ndjson_lines(second)]
                for lines in running:
                    next(lines)
                    next(lines)  # generating now
                for route in ("/api/stream_chat", "/api/chat"):
                    refused = client.post(route, json=ASK)
                    assert assert_too_many(refused, "Too many generations at once: the limit is 2") == 1
                    assert "ARENA_MAX_STREAMS_PER_USER" in refused.json()["error"]
                # Another caller is not held back by this one's cap.
                double.token_delay = 0.0
                assert other.post("/api/chat", json=ASK).status_code == 200
                ends = [list(lines)[-1] for lines in running]
            assert all(end["done"] and "error" not in end for end in ends), ends
            # Both finished: their slots are free again.
            assert client.post("/api/chat", json=ASK).status_code == 200
            assert client.post("/api/chat", json=ASK).status_code == 200


def test_a_cut_stream_gives_its_slot_back(tmp_path: Path, double: OllamaDouble) -> None:
    double.reply, double.token_delay = [f" w{i}" for i in range(200)], 0.05
    with arena_with(tmp_path, double, max_streams_per_user=1) as arena, arena.client() as client:
        with client.stream("POST", "/api/stream_chat", json=ASK) as response:
            lines = ndjson_lines(response)  # kept: a dropped iterator would close the stream at once
            next(lines)
            next(lines)
            assert client.post("/api/chat", json=ASK).status_code == 429
        # The client hung up; the server notices at its next token and frees the slot.
        double.token_delay = 0.0
        deadline = time.monotonic() + 10
        status = 429
        while status == 429 and time.monotonic() < deadline:
            status = client.post("/api/chat", json=ASK).status_code
            time.sleep(0.05)
        assert status == 200


# The flooder runs in a process of its own, as an attacker would, so that its threads do not
# compete with the server for this process's GIL.
FLOOD = """
import json, sys, threading, httpx
url, size, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
statuses = []
def flood():
    with httpx.Client(base_url=url, timeout=60) as client:
        for _ in range(size // workers):
            statuses.append(client.post("/api/chat", json={"message": "hi", "models": ["ollama:llama3.2:1b"]}).status_code)
            if statuses[-1] == 429 and statuses.count(429) == 1:
                print("flooding", flush=True)
threads = [threading.Thread(target=flood) for _ in range(workers)]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps(statuses), flush=True)
"""


def test_under_a_flood_the_server_stays_responsive_for_others(tmp_path: Path, double: OllamaDouble) -> None:
    flood_size, workers = 200, 8
    with arena_with(tmp_path, double, rate_limit_chat="3/minute") as arena:
        with arena.client() as probe, client_from(arena, OTHER_ADDRESS) as other:
            # Connected and warmed up first, so only the flood is measured (1 of the 3 chats).
            assert other.post("/api/chat", json=ASK).status_code == 200
            flooder = subprocess.Popen(
                [sys.executable, "-c", FLOOD, arena.url, str(flood_size), str(workers)], stdout=subprocess.PIPE, text=True
            )
            try:
                assert flooder.stdout is not None
                assert flooder.stdout.readline().strip() == "flooding"
                timings: list[float] = []
                while len(timings) < 4 and flooder.poll() is None:
                    for ask in (lambda: probe.get("/api/health"), lambda: other.post("/api/chat", json=ASK)):
                        started = time.monotonic()
                        assert ask().status_code == 200  # the other caller's chats come from its own budget
                        timings.append(time.monotonic() - started)
                statuses = json.loads(flooder.communicate(timeout=60)[0])
            finally:
                flooder.kill()
    assert timings, "the flood ended before anyone else asked"
    assert max(timings) < 2.0, f"a request took {max(timings):.2f} s during the flood"
    assert len(statuses) == flood_size
    assert statuses.count(200) == 3 and statuses.count(429) == flood_size - 3


def test_login_attempts_are_limited_per_address(tmp_path: Path) -> None:
    """`enforce_login_rate_limit` on a route of its own, as the login route will use it."""
    app = FastAPI()
    install_error_handlers(app)
    install_rate_limits(app, make_settings(tmp_path, rate_limit_login="3/minute"))

    @app.post("/login", dependencies=[Depends(enforce_login_rate_limit)])
    async def login() -> dict[str, bool]:
        return {"ok": False}

    with TestClient(app, client=("10.0.0.1", 5000)) as client:
        assert [client.post("/login").status_code for _ in range(3)] == [200, 200, 200]
        refused = client.post("/login")
        assert refused.status_code == 429
        assert refused.json()["error"].startswith("Too many login attempts: the limit is 3 per 1 minute")
        assert int(refused.headers["Retry-After"]) >= 1
    with TestClient(app, client=("10.0.0.2", 5000)) as elsewhere:
        assert elsewhere.post("/login").status_code == 200
