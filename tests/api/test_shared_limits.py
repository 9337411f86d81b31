"""Rate limits shared by every server process through Redis (ARENA_REDIS_URL): N per minute
admits N in all across two apps, not N each, also when the requests come at once; failed bearer
tokens spend one login budget wherever they are sent."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from arena.storage.shared_state import connect
from arena.web.auth.limits import RateLimits
from tests.support.doubles.ollama import OllamaDouble
from tests.support.shared_state import two_arenas

ASK = {"message": "hi", "models": ["ollama:llama3.2:1b"]}
TOKEN = "shared-limits-test-token-0123456789"


@pytest.fixture(autouse=True)
def quick_replies(double: OllamaDouble) -> None:
    double.reply, double.token_delay = ["Hi", " there"], 0.0


@pytest.mark.timeout(60)
def test_a_chat_limit_is_one_budget_across_processes(tmp_path: Path, double: OllamaDouble, redis_url: str) -> None:
    with two_arenas(tmp_path / "data", double_url=double.url, redis_url=redis_url, rate_limit_chat="3/minute") as (
        a,
        b,
    ):
        with a.client() as at_a, b.client() as at_b:
            answers = [(at_a if n % 2 == 0 else at_b).post("/api/chat", json=ASK) for n in range(6)]
            assert [r.status_code for r in answers] == [200, 200, 200, 429, 429, 429]
            refused = answers[3]  # B's first refusal: A's two and B's one spent the budget
            assert refused.json()["error"].startswith("Too many chat requests: the limit is 3 per 1 minute")
            assert 1 <= int(refused.headers["Retry-After"]) <= 60


@pytest.mark.timeout(60)
def test_requests_at_once_on_both_processes_never_pass_the_limit_together(
    tmp_path: Path, double: OllamaDouble, redis_url: str
) -> None:
    with two_arenas(tmp_path / "data", double_url=double.url, redis_url=redis_url, rate_limit_chat="4/minute") as (
        a,
        b,
    ):
        clients = [httpx.Client(base_url=arena.url, timeout=20) for arena in (a, b) for _ in range(6)]
        try:
            with ThreadPoolExecutor(len(clients)) as pool:
                statuses = list(pool.map(lambda client: client.post("/api/chat", json=ASK).status_code, clients))
        finally:
            for client in clients:
                client.close()
    assert sorted(statuses) == [200] * 4 + [429] * 8, statuses


@pytest.mark.timeout(60)
def test_wrong_tokens_spend_one_login_budget_across_processes(
    tmp_path: Path, double: OllamaDouble, redis_url: str
) -> None:
    settings = {"web_chat_token": TOKEN, "rate_limit_login": "4/minute"}
    with two_arenas(tmp_path / "data", double_url=double.url, redis_url=redis_url, **settings) as (a, b):
        with a.client() as at_a, b.client() as at_b:
            guesses = [
                (at_a if n % 2 == 0 else at_b).get("/api/conversations", headers={"Authorization": f"Bearer guess{n}"})
                for n in range(6)
            ]
            assert [r.status_code for r in guesses] == [401] * 4 + [429] * 2
            # Past the limit a wrong token waits wherever it asks; the right one is never refused.
            assert at_b.get("/api/conversations", headers={"Authorization": "Bearer guess6"}).status_code == 429
            assert at_b.get("/api/conversations", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


@pytest.mark.anyio
async def test_a_place_held_in_one_process_counts_in_the_other(redis_url: str) -> None:
    """A short shared token being compared holds its place (reserve); another process sees it held."""
    first_client, second_client = connect(redis_url), connect(redis_url)
    try:
        first = RateLimits({"login": "2/minute"}, redis=first_client)
        second = RateLimits({"login": "2/minute"}, redis=second_client)
        held = [await first.reserve("login", "ip:x"), await second.reserve("login", "ip:x")]
        assert [h.refusal for h in held] == [None, None]
        assert (await second.reserve("login", "ip:x")).refusal is not None  # both places are held
        assert await first.hit("login", "ip:x") is not None
        await held[0].settle(counted=False)  # a right token: its place comes back, uncounted
        assert await second.hit("login", "ip:x") is None
        await held[1].settle(counted=True)  # a wrong one: counted, so the window is now full
        assert (await first.hit("login", "ip:x")).retry_after >= 1  # type: ignore[union-attr]
    finally:
        await first_client.aclose()
        await second_client.aclose()
