"""GET /metrics: a scrape before and after a known workload moves the counters by exactly it,
and only an admin may read it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.accounts import PASSWORD, api_token, login
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory
from tests.support.process import arena_process
from tests.support.server import RunningArena, ndjson_lines

pytestmark = pytest.mark.timeout(120)
LLAMA = "ollama:llama3.2:1b"
QWEN = "ollama:qwen2.5:0.5b"
Sample = tuple[str, tuple[tuple[str, str], ...]]


def scrape(arena: RunningArena, token: str) -> Counter[Sample]:
    """Every sample of /metrics, by name and labels, read with Prometheus' own text parser."""
    with arena.client(headers={"Authorization": f"Bearer {token}"}) as client:
        response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Counter[Sample] = Counter()
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value  # type: ignore[assignment]
    return samples


def moved(before: Counter[Sample], after: Counter[Sample], name: str, **labels: str) -> float:
    """How far every sample of `name` whose labels include `labels` moved, together."""
    wanted = set(labels.items())
    keys = {key for key in (*before, *after) if key[0] == name and wanted <= set(key[1])}
    return sum(after[key] - before[key] for key in keys)


@pytest.fixture
def arena(double: OllamaDouble, arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(accounts=True, ollama_hosts=[double.url], embedded_enabled=False, rate_limit_chat="2/minute")


def compare(session_client: httpx.Client, csrf: str) -> httpx.Response:
    body = {"message": "Why is the sky blue?", "models": [LLAMA, QWEN]}
    with session_client.stream("POST", "/api/stream_chat", json=body, headers={"X-CSRF-Token": csrf}) as response:
        if response.status_code == 200:
            done = [line for line in ndjson_lines(response) if line.get("done")]
            assert len(done) == 2 and all(line["status"] == "ok" for line in done if "status" in line)
        else:
            response.read()
    return response


def test_a_known_workload_moves_the_counters_by_exactly_that(arena: RunningArena) -> None:
    admin = api_token(arena, "ada")
    eve = login(arena, "eve")
    before = scrape(arena, admin)

    assert compare(eve.client, eve.csrf_token).status_code == 200
    assert compare(eve.client, eve.csrf_token).status_code == 200
    assert compare(eve.client, eve.csrf_token).status_code == 429  # ARENA_RATE_LIMIT_CHAT=2/minute
    with arena.client() as client:
        wrong = client.post("/api/auth/login", json={"username": "vic", "password": PASSWORD + "!"})
    assert wrong.status_code == 401
    after = scrape(arena, admin)

    for model in (LLAMA, QWEN):
        assert moved(before, after, "arena_generations_total", engine="ollama", model=model, status="ok") == 2
        assert moved(before, after, "arena_time_to_first_token_seconds_count", engine="ollama", model=model) == 2
        assert moved(before, after, "arena_tokens_per_second_count", engine="ollama", model=model) == 2
    assert moved(before, after, "arena_generations_total") == 4
    assert moved(before, after, "arena_http_requests_total", route="/api/stream_chat", status="200") == 2
    assert moved(before, after, "arena_http_requests_total", route="/api/stream_chat", status="429") == 1
    assert moved(before, after, "arena_http_requests_total", route="/api/auth/login", status="401") == 1
    assert moved(before, after, "arena_rate_limited_total", bucket="chat") == 1
    assert moved(before, after, "arena_rate_limited_total") == 1
    assert moved(before, after, "arena_login_failures_total") == 1
    assert moved(before, after, "arena_database_errors_total") == 0
    assert after[("arena_active_streams", ())] == 0 and ("arena_active_streams", ()) in after  # both ended
    assert ("arena_generations_queued", ()) in after


def test_metrics_are_for_admins_only(arena: RunningArena) -> None:
    with arena.client() as anonymous:
        assert anonymous.get("/metrics").status_code == 401
    viewer = login(arena, "vic")
    assert viewer.client.get("/metrics").status_code == 403
    admin = login(arena, "ada")
    response = admin.client.get("/metrics")
    assert response.status_code == 200 and "arena_http_requests_total" in response.text


def test_without_authentication_metrics_are_served_to_loopback(arena_factory: ArenaFactory) -> None:
    arena = arena_factory(embedded_enabled=False)
    with arena.client() as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["x-request-id"]


def test_worker_processes_sharing_a_multiprocess_directory_are_counted_together(tmp_path: Path) -> None:
    """Two `arena serve` processes (as `uvicorn --workers 2` would run), one database, one
    PROMETHEUS_MULTIPROC_DIR: either one's /metrics counts what both answered."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {"ARENA_EMBEDDED": "false", "ARENA_AUTH_MODE": "none", "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    data = tmp_path / "data"
    with arena_process(data, env=env) as (_one, first), arena_process(data, env=env) as (_two, second):
        for url, count in ((first, 3), (second, 2)):
            for _ in range(count):
                assert httpx.get(f"{url}/api/no-such-thing", timeout=30).status_code == 404
        for url in (first, second):
            text = httpx.get(f"{url}/metrics", timeout=30).text
            samples = {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
            }
            unmatched = (("method", "GET"), ("route", "unmatched"), ("status", "404"))
            assert samples[("arena_http_requests_total", unmatched)] == 5
            assert samples[("arena_active_streams", ())] == 0
