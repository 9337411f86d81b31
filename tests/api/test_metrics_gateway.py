"""/v1 answers are counted and logged as the arena's own chats are: each finished completion,
whole or streamed, moves arena_generations_total and the per-model histograms, and writes one
generation log line with model, engine, status and tokens, never the text."""

from __future__ import annotations

import logging

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.doubles.ollama import DEFAULT_REPLY, OllamaDouble
from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena

pytestmark = pytest.mark.timeout(60)
LLAMA = "ollama:llama3.2:1b"
HELLO = [{"role": "user", "content": "Why is the sky blue?"}]


@pytest.fixture
def arena(double: OllamaDouble, arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(ollama_hosts=[double.url], embedded_enabled=False)


def counts(client: httpx.Client) -> dict[tuple[str, str], float]:
    """arena_generations_total by (model, status), and each histogram's count by (name, model)."""
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "arena_generations_total" and sample.labels["engine"] == "ollama":
                found[(sample.labels["model"], sample.labels["status"])] = sample.value
            elif sample.name in ("arena_time_to_first_token_seconds_count", "arena_tokens_per_second_count"):
                found[(sample.name, sample.labels["model"])] = sample.value
    return found


def moved(before: dict[tuple[str, str], float], after: dict[tuple[str, str], float]) -> dict[tuple[str, str], float]:
    return {key: value - before.get(key, 0) for key, value in after.items() if value != before.get(key, 0)}


def test_whole_and_streamed_completions_are_counted_and_logged(
    arena: RunningArena, caplog: pytest.LogCaptureFixture
) -> None:
    with arena.client() as client, caplog.at_level(logging.INFO, logger="arena.web.generations"):
        before = counts(client)
        whole = client.post("/v1/chat/completions", json={"model": LLAMA, "messages": HELLO})
        assert whole.status_code == 200, whole.text
        with client.stream(
            "POST", "/v1/chat/completions", json={"model": LLAMA, "messages": HELLO, "stream": True}
        ) as streamed:
            assert streamed.status_code == 200
            assert "data: [DONE]" in streamed.read().decode()
        after = counts(client)

    assert moved(before, after) == {
        (LLAMA, "ok"): 2,
        ("arena_time_to_first_token_seconds_count", LLAMA): 2,
        ("arena_tokens_per_second_count", LLAMA): 2,
    }
    lines = [r for r in caplog.records if r.name == "arena.web.generations"]
    assert len(lines) == 2
    for line in lines:
        assert (line.model, line.engine, line.status) == (LLAMA, "ollama", "ok")  # type: ignore[attr-defined]
        assert line.tokens > 0  # type: ignore[attr-defined]
        assert "".join(DEFAULT_REPLY) not in line.getMessage() and "sky" not in str(vars(line))


@pytest.mark.parametrize("stream", [False, True])
def test_a_failed_completion_is_counted_as_an_error(arena: RunningArena, double: OllamaDouble, stream: bool) -> None:
    double.busy = True  # the engine refuses the request: no token comes
    with arena.client() as client:
        before = counts(client)
        failed = client.post("/v1/chat/completions", json={"model": LLAMA, "messages": HELLO, "stream": stream})
        assert failed.status_code >= 500, failed.text
        after = counts(client)
    assert moved(before, after).get((LLAMA, "error")) == 1
