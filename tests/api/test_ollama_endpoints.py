"""Several OLLAMA_HOST endpoints: each model listed once with where it runs, generation on an
endpoint that serves it (and another when that one is down), pulls and deletes by endpoint."""

from __future__ import annotations

import httpx
import pytest

from tests.support.doubles.ollama import DEFAULT_MODELS, DoubleModel, OllamaDouble
from tests.support.fixtures import ArenaFactory, DoubleFactory
from tests.support.server import RunningArena, ndjson_lines

LLAMA = "ollama:llama3.2:1b"
ONLY_ON_SECOND = DoubleModel(name="phi3:mini", family="phi3", parameter_size="3.8B")
PULLABLE = DoubleModel(name="tinyllama:latest", size=637_700_138)


@pytest.fixture
def doubles(double_factory: DoubleFactory) -> tuple[OllamaDouble, OllamaDouble]:
    first = double_factory(library=[PULLABLE])
    second = double_factory(models=[*DEFAULT_MODELS, ONLY_ON_SECOND], library=[PULLABLE])
    return first, second


@pytest.fixture
def arena(doubles: tuple[OllamaDouble, OllamaDouble], arena_factory: ArenaFactory) -> RunningArena:
    first, second = doubles
    return arena_factory(ollama_hosts=[first.url, second.url], embedded_enabled=False)


def answer(client: httpx.Client, model: str) -> dict:
    """The final line of one instance's streamed answer (the arena's own format)."""
    body = {"message": "hi", "model_instances": [{"model": model, "num_predict": 4}]}
    with client.stream("POST", "/api/stream_chat?format=arena", json=body) as response:
        assert response.status_code == 200, response.read()
        return [line for line in ndjson_lines(response) if line.get("done")][-1]


def test_a_model_on_two_endpoints_is_listed_once_with_both(
    arena: RunningArena, doubles: tuple[OllamaDouble, OllamaDouble]
) -> None:
    first, second = doubles
    with arena.client() as client:
        listed = client.get("/api/models").json()
    ids = [d["id"] for d in listed["details"]]
    assert sorted(ids) == ["ollama:llama3.2:1b", "ollama:phi3:mini", "ollama:qwen2.5:0.5b"]
    assert sorted(listed["models"]) == ["llama3.2:1b", "phi3:mini", "qwen2.5:0.5b"], "v3's list: each name once"
    by_id = {d["id"]: d for d in listed["details"]}
    assert by_id[LLAMA]["endpoints"] == [first.url, second.url]
    assert by_id["ollama:phi3:mini"]["endpoints"] == [second.url]
    assert by_id["ollama:phi3:mini"]["endpoint"] == second.url
    assert [(e["engine"], e["endpoint"], e["reachable"], e["can_pull"]) for e in listed["engines"]] == [
        ("ollama", first.url, True, True),
        ("ollama", second.url, True, True),
    ]


def test_generation_goes_to_an_endpoint_that_serves_the_model(
    arena: RunningArena, doubles: tuple[OllamaDouble, OllamaDouble]
) -> None:
    first, second = doubles
    with arena.client() as client:
        client.get("/api/models")  # the inventory says where phi3 runs
        final = answer(client, "ollama:phi3:mini")
    assert "error" not in final and final["metrics"]["tokens"] > 0, final
    assert [b["model"] for b in second.bodies("/api/chat")] == ["phi3:mini"]
    assert first.bodies("/api/chat") == [], "the endpoint without the model was not even asked"


def test_generation_falls_over_to_another_endpoint_when_one_is_down(
    arena: RunningArena, doubles: tuple[OllamaDouble, OllamaDouble]
) -> None:
    first, second = doubles
    with arena.client() as client:
        client.get("/api/models")  # both serve llama: the first (configured order) would be chosen
        first.stop()
        final = answer(client, LLAMA)
        assert "error" not in final and final["metrics"]["tokens"] > 0, final
        assert len(second.bodies("/api/chat")) == 1
        # The manager then shows the first one down, and the model as served by the second only.
        listed = client.get("/api/models", params={"refresh": True}).json()
    states = {e["endpoint"]: e for e in listed["engines"]}
    assert states[first.url]["reachable"] is False and "not running" in states[first.url]["detail"]
    assert next(d for d in listed["details"] if d["id"] == LLAMA)["endpoints"] == [second.url]


def test_pull_and_delete_name_their_endpoint(arena: RunningArena, doubles: tuple[OllamaDouble, OllamaDouble]) -> None:
    first, second = doubles
    with arena.client() as client:
        with client.stream("POST", "/api/models/pull", json={"model": "tinyllama", "endpoint": second.url}) as response:
            assert [line["status"] for line in ndjson_lines(response)][-1] == "success"
        assert "tinyllama:latest" in second.models and "tinyllama:latest" not in first.models
        listed = client.get("/api/models").json()
        assert next(d for d in listed["details"] if d["id"] == "ollama:tinyllama:latest")["endpoints"] == [second.url]

        unknown = client.post("/api/pull_model", json={"model": "tinyllama", "endpoint": "http://127.0.0.1:1"})
        assert unknown.status_code == 400
        assert "no ollama endpoint 'http://127.0.0.1:1'" in unknown.json()["error"]
        assert first.url in unknown.json()["error"], "the answer names the configured endpoints"

        # Deleting from one endpoint leaves the other's copy; without an endpoint, every copy goes.
        one = client.post("/api/delete_model", json={"model": LLAMA, "endpoint": first.url})
        assert one.json()["endpoints"] == [first.url]
        assert "llama3.2:1b" not in first.models and "llama3.2:1b" in second.models
        everywhere = client.request("DELETE", "/api/models/ollama:qwen2.5:0.5b")
        assert sorted(everywhere.json()["endpoints"]) == sorted([first.url, second.url])
        assert not any("qwen2.5" in name for double in doubles for name in double.models)
        missing = client.request("DELETE", "/api/models/ollama:qwen2.5:0.5b")
        assert missing.status_code == 404 and "nothing to delete" in missing.json()["error"]
        # The audit log says where each pull and delete went.
        entries = client.get("/api/audit", params={"action": "model"}).json()["entries"]
    details = [(e["action"], e["detail"]) for e in reversed(entries)]
    assert details == [
        ("model.pull", {"endpoint": second.url, "outcome": "succeeded"}),
        ("model.pull", {"endpoint": "http://127.0.0.1:1", "outcome": "refused", "error": unknown.json()["error"]}),
        ("model.delete", {"endpoints": [first.url], "outcome": "succeeded"}),
        ("model.delete", {"endpoints": [first.url, second.url], "outcome": "succeeded"}),
        ("model.delete", {"outcome": "failed", "error": missing.json()["error"]}),
    ]
