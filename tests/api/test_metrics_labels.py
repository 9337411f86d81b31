"""Nothing a caller sends can add series to /metrics: made-up HTTP methods count under one
`method="other"`, paths no route has under `route="unmatched"`, and failed answers of model
names no engine lists under `model="unlisted"`. /metrics stays the same size however many of
them come."""

from __future__ import annotations

import secrets

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena

pytestmark = pytest.mark.timeout(60)
STANDARD_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}


@pytest.fixture
def arena(double: OllamaDouble, arena_factory: ArenaFactory) -> RunningArena:
    # No authentication: /metrics is served to loopback, and anyone may send anything.
    return arena_factory(ollama_hosts=[double.url], embedded_enabled=False)


def label_values(text: str, name: str, label: str) -> dict[str, float]:
    """Each value of `label` on the samples of `name`, with their counts summed."""
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and label in sample.labels:
                values[sample.labels[label]] = values.get(sample.labels[label], 0) + sample.value
    return values


def test_made_up_methods_and_paths_add_no_series(arena: RunningArena) -> None:
    with arena.client() as client:
        client.get("/api/health")
        client.request("BREW", "/nowhere")  # every label this test makes exists once before it counts
        before = client.get("/metrics").text
        sent: list[str] = []
        for _ in range(40):
            odd, path = "X" + secrets.token_hex(40).upper(), secrets.token_hex(8)  # a new 81-character method
            assert client.request(odd, "/api/health").status_code == 405
            assert client.request(odd, f"/{path}").status_code in (404, 405)
            sent += [odd, path]
        after = client.get("/metrics").text

    assert not [value for value in sent if value in after]  # nothing the caller made up is in /metrics

    methods = label_values(after, "arena_http_requests_total", "method")
    assert set(methods) <= STANDARD_METHODS | {"other"}, sorted(methods)
    assert methods["other"] - label_values(before, "arena_http_requests_total", "method")["other"] == 80
    assert label_values(after, "arena_http_requests_total", "route")["unmatched"] >= 40
    statuses = label_values(after, "arena_http_requests_total", "status")
    assert all(status.isdigit() and 100 <= int(status) <= 599 for status in statuses), statuses
    # Same series before and after: only the counts (and the scrape's own) moved.
    assert len(after) - len(before) < 2000, len(after) - len(before)


def test_failed_answers_of_unknown_model_names_count_as_unlisted(arena: RunningArena) -> None:
    names = [f"ollama:made-up-{secrets.token_hex(6)}" for _ in range(4)]
    with arena.client() as client:
        before = label_values(client.get("/metrics").text, "arena_generations_total", "model").get("unlisted", 0)
        for pair in (names[:2], names[2:]):  # two instances: the request itself is not refused
            answer = client.post("/api/chat", json={"message": "Why is the sky blue?", "models": pair})
            assert answer.status_code == 200, answer.text
        text = client.get("/metrics").text

    models = label_values(text, "arena_generations_total", "model")
    assert not [name for name in names if name in models], models
    assert models["unlisted"] - before == 4
    assert not [name for name in names if name in text]  # nowhere in /metrics


def test_answers_of_served_models_keep_their_name(arena: RunningArena) -> None:
    with arena.client() as client:
        before = label_values(client.get("/metrics").text, "arena_generations_total", "model")
        answer = client.post(
            "/api/chat", json={"message": "Why?", "models": ["ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"]}
        )
        assert answer.status_code == 200, answer.text
        after = label_values(client.get("/metrics").text, "arena_generations_total", "model")
    moved = {model: count - before.get(model, 0) for model, count in after.items() if count != before.get(model, 0)}
    assert moved == {"ollama:llama3.2:1b": 1, "ollama:qwen2.5:0.5b": 1}
