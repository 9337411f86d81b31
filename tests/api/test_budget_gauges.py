"""The budget's gauges on /metrics read what runs and what waits, in memory and in Redis: a
comparison of 2 holding the whole budget of 2 and one more waiting read 2 running, 1 queued."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from arena.storage.shared_state import connect
from arena.web.app import SERVER_OPTIONS, create_app
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import module_double
from tests.support.server import make_settings, ndjson_lines, serving

pytestmark = pytest.mark.timeout(120)
LLAMA = "ollama:llama3.2:1b"
double = module_double


def comparison(count: int) -> dict[str, object]:
    return {"message": "hi", "model_instances": [{"model": LLAMA, "temperature": 0.1 * (n + 1)} for n in range(count)]}


@contextmanager
def arena(data_dir: Path, double: OllamaDouble, redis_url: str | None) -> Iterator[str]:
    settings = make_settings(data_dir, ollama_hosts=[double.url], embedded_enabled=False, max_generations_setting=2)
    app = create_app(settings)
    if redis_url is not None:
        app.state.redis = connect(redis_url)  # as ARENA_REDIS_URL sets it
    with serving(app, what="an arena process", lifespan="on", **SERVER_OPTIONS) as url:
        yield url


def gauges(client: httpx.Client) -> dict[str, float]:
    response = client.get("/metrics")  # no accounts: loopback may read it
    assert response.status_code == 200, response.text
    wanted = {"arena_generations_running", "arena_generations_queued"}
    return {s.name: s.value for f in text_string_to_metric_families(response.text) for s in f.samples if s.name in wanted}


@pytest.mark.parametrize("shared", [False, True], ids=["memory", "redis"])
def test_a_scrape_counts_the_comparison_running_and_the_one_waiting(
    tmp_path: Path, double: OllamaDouble, request: pytest.FixtureRequest, shared: bool
) -> None:
    double.reply, double.token_delay, double.first_token_delay = [f" w{i}" for i in range(40)], 0.05, 0.0
    redis_url = request.getfixturevalue("redis_url") if shared else None
    try:
        with arena(tmp_path, double, redis_url) as url, httpx.Client(base_url=url, timeout=60) as first:
            second = httpx.Client(base_url=url, timeout=60, transport=httpx.HTTPTransport(local_address="127.0.0.2"))
            with second, first.stream("POST", "/api/stream_chat?format=arena", json=comparison(2)) as running:
                head = ndjson_lines(running)
                next(head)  # both units are held
                with second.stream("POST", "/api/stream_chat?format=arena", json=comparison(1)) as waiting:
                    lines = ndjson_lines(waiting)
                    assert next(lines) == {"queued": True, "position": 0}
                    assert gauges(first) == {"arena_generations_running": 2, "arena_generations_queued": 1}
                    list(head)
                    list(lines)
                assert gauges(first) == {"arena_generations_running": 0, "arena_generations_queued": 0}
    finally:
        double.token_delay = 0.0
