"""A right bearer token is never refused for what others did at its address, nor for its own
concurrency: failed password logins and wrong tokens spend the address's login budget
(ARENA_RATE_LIMIT_LOGIN), but a right API token (or a long shared token) is checked first and
passes, on the API and on /v1; wrong tokens past the budget still get 429. A short shared token
(it may be a word) keeps the lockout, so that its right answer is no oracle for a guesser."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from arena import accounts
from tests.support.accounts import users_arena
from tests.support.doubles.ollama import OllamaDouble
from tests.support.server import RunningArena, make_settings, running_arena

pytestmark = pytest.mark.timeout(90)

LIMIT = "5/minute"
LONG_TOKEN = "a-long-shared-token-for-the-lockout-tests"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def eves_token(arena: RunningArena) -> str:
    with arena.database() as database:
        [account] = [a for a, _ in accounts.list_accounts(database) if a.username == "eve"]
        token, _ = accounts.issue_api_token(database, account=account, name="script")
    return token


def spend_login_budget(client: httpx.Client) -> None:
    """What an attacker at the same address (an office NAT) does: fail password logins."""
    statuses = [
        client.post("/api/auth/login", json={"username": "rival", "password": "wrong"}).status_code for _ in range(6)
    ]
    assert statuses[-1] == 429, statuses


def test_failed_logins_at_an_address_do_not_lock_its_api_tokens_out(
    isolated_environment: Path, double: OllamaDouble
) -> None:
    with users_arena(
        isolated_environment, embedded_enabled=False, ollama_hosts=[double.url], rate_limit_login=LIMIT
    ) as arena:
        token = eves_token(arena)
        with arena.client() as client:
            spend_login_budget(client)
            api = client.get("/api/conversations", headers=bearer(token))
            gateway = client.get("/v1/models", headers=bearer(token))
            wrong = client.get("/api/conversations", headers=bearer("arena_a-guess"))
            password = client.post("/api/auth/login", json={"username": "eve", "password": "wrong"})
    # Before: 429 "Too many failed logins or tokens from this address" for the right token too.
    assert api.status_code == 200, api.text
    assert gateway.status_code == 200, gateway.text
    assert wrong.status_code == 429 and int(wrong.headers["Retry-After"]) >= 1
    assert wrong.json()["error"].startswith("Too many failed logins or tokens from this address")
    assert password.status_code == 429  # the password login stays throttled


def test_many_right_tokens_at_once_are_all_answered(isolated_environment: Path, double: OllamaDouble) -> None:
    with users_arena(
        isolated_environment, embedded_enabled=False, ollama_hosts=[double.url], rate_limit_login=LIMIT
    ) as arena:
        token = eves_token(arena)
        gate = threading.Barrier(20)

        def ask(_: int) -> int:
            with arena.client() as client:
                gate.wait()
                return client.get("/v1/models", headers=bearer(token)).status_code

        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(ask, range(20)))
    # Before: each held a place in the 5-a-minute login budget while looked up, so most got 429.
    assert statuses == [200] * 20, statuses


def test_a_long_shared_token_passes_after_wrong_ones_and_a_burst_of_wrong_ones_is_limited(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, web_chat_token=LONG_TOKEN, embedded_enabled=False, rate_limit_login=LIMIT)
    with running_arena(settings) as arena:
        gate = threading.Barrier(12)

        def guess(n: int) -> int:
            with arena.client() as client:
                gate.wait()
                return client.get("/api/conversations", headers=bearer(f"guess{n}")).status_code

        with ThreadPoolExecutor(max_workers=12) as pool:
            statuses = list(pool.map(guess, range(12)))
        with arena.client() as client:
            right = client.get("/api/conversations", headers=bearer(LONG_TOKEN))
    # Each failure is counted atomically: a burst gets no more 401s than the limit.
    assert sorted(statuses) == [401] * 5 + [429] * 7, statuses
    assert right.status_code == 200, right.text


def test_a_short_shared_token_is_not_compared_once_the_budget_is_spent(tmp_path: Path) -> None:
    short = "short-token"  # the start-up warning says so, and that it locks out like this
    settings = make_settings(tmp_path, web_chat_token=short, embedded_enabled=False, rate_limit_login=LIMIT)
    with running_arena(settings) as arena, arena.client() as client:
        assert [client.get("/api/conversations", headers=bearer(f"g{n}")).status_code for n in range(6)] == [
            401
        ] * 5 + [429]
        right = client.get("/api/conversations", headers=bearer(short))
    assert right.status_code == 429  # else a 200 among 429s would tell a guesser it was right
