"""The API with Ollama models, against the Ollama protocol double."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.support.doubles.ollama import DoubleModel, OllamaDouble, ollama_double
from tests.support.fixtures import ArenaFactory
from tests.support.models import SMOL
from tests.support.server import RunningArena, make_settings, ndjson_lines, running_arena

LLAMA = "ollama:llama3.2:1b"

# The double has one model it can pull that is not installed yet.
pytestmark = pytest.mark.double(library=[DoubleModel(name="tinyllama:latest", size=637_700_138)])


@pytest.fixture
def arena_with_ollama(double: OllamaDouble, arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(ollama_hosts=[double.url], history_limit=3)



def stream(arena: RunningArena, body: dict) -> list[dict]:
    with arena.client() as client, client.stream("POST", "/api/stream_chat", json=body) as response:
        assert response.status_code == 200, response.read()
        return list(ndjson_lines(response))


def test_ollama_models_appear_beside_the_embedded_ones(arena_with_ollama: RunningArena) -> None:
    with arena_with_ollama.client() as client:
        data = client.get("/api/models").json()
        health = client.get("/api/health").json()
    # The legacy list holds bare names, as v3 compares them; the details keep the full ids.
    assert {"llama3.2:1b", "qwen2.5:0.5b", "smollm2-135m-instruct"} <= set(data["models"])
    assert {LLAMA, "ollama:qwen2.5:0.5b", SMOL} <= {d["id"] for d in data["details"]}
    qwen = next(d for d in data["details"] if d["id"] == "ollama:qwen2.5:0.5b")
    assert (qwen["family"], qwen["parameter_size"], qwen["size"]) == ("qwen2", "494.03M", 397_821_319)
    assert health["engines"]["ollama"][0]["reachable"] is True
    assert health["engines"]["ollama"][0]["version"] == "0.6.5"


def test_ollama_stream_uses_its_metrics_and_options(arena_with_ollama: RunningArena, double: OllamaDouble) -> None:
    body = {"message": "Why is the sky blue?", "model_instances": [{"model": LLAMA, "temperature": 0.3, "top_k": 20, "seed": 7}]}
    lines = stream(arena_with_ollama, body)
    tokens = [e["token"] for e in lines[1:] if not e["done"]]
    assert "".join(tokens) == "The sky is blue — Rayleigh scattering."
    done = lines[-1]
    assert done["metrics"]["tokens"] == 8
    assert done["metrics"]["prompt_tokens"] == 26
    assert done["metrics"]["tokens_per_sec"] == pytest.approx(8 / 4.535599, abs=0.01)  # eval_count / eval_duration
    sent = double.bodies("/api/chat")[-1]
    assert sent["model"] == "llama3.2:1b"
    assert sent["options"] == {"temperature": 0.3, "top_p": 0.9, "top_k": 20, "repeat_penalty": 1.1, "num_predict": -1, "seed": 7}


def test_history_is_truncated_to_the_limit(arena_with_ollama: RunningArena, double: OllamaDouble) -> None:
    history = [{"role": "system", "content": "Be brief."}] + [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i}"} for i in range(6)
    ]
    stream(arena_with_ollama, {"history": history, "message": "last", "models": [LLAMA]})
    sent = double.bodies("/api/chat")[-1]["messages"]
    assert sent == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "message 4"},
        {"role": "assistant", "content": "message 5"},
        {"role": "user", "content": "last"},
    ]


def test_mid_stream_error_fails_that_instance_only_and_keeps_its_text(
    arena_with_ollama: RunningArena, double: OllamaDouble
) -> None:
    double.error_after = 3
    body = {"message": "Hello", "model_instances": [{"model": LLAMA}, {"model": SMOL, "num_predict": 8}]}
    lines = stream(arena_with_ollama, body)
    conversation_id = lines[0]["conversation_id"]
    finals = {e["model"]: e for e in lines if e.get("done")}
    assert "unexpected EOF" in finals[LLAMA]["error"]
    assert "error" not in finals[SMOL] and finals[SMOL]["metrics"]["tokens"] > 0
    with arena_with_ollama.client() as client:
        stored = client.get(f"/api/conversations/{conversation_id}").json()
    by_model = {r["instance_id"].split("__")[0]: r for r in stored["turns"][0]["responses"]}
    assert by_model["ollama_llama3.2_1b"]["status"] == "error"
    assert by_model["ollama_llama3.2_1b"]["text"] == "The sky is"
    assert by_model["local_smollm2-135m-instruct"]["status"] == "ok"


def test_unknown_ollama_model_alone_is_404_with_advice(arena_with_ollama: RunningArena) -> None:
    with arena_with_ollama.client() as client:
        response = client.post("/api/chat", json={"message": "hi", "models": ["ollama:mistral"]})
    assert response.status_code == 404
    assert "arena pull mistral" in response.json()["error"]


def test_ollama_down_is_that_instances_error(tmp_path: Path) -> None:
    with running_arena(make_settings(tmp_path)) as arena, arena.client() as client:
        single = client.post("/api/chat", json={"message": "hi", "models": [LLAMA]})
        assert single.status_code == 503
        assert "Ollama is not running at http://127.0.0.1:9" in single.json()["error"]
        both = client.post("/api/chat", json={"message": "hi", "model_instances": [{"model": LLAMA}, {"model": SMOL, "num_predict": 4}]}).json()
    good, down = "local_smollm2-135m-instruct__0.7_0.9_40_1.1_4_0", "ollama_llama3.2_1b__0.7_0.9_40_1.1_-1_0"
    # Every instance has a result (v3); the failed one says why, and `errors` repeats it.
    assert set(both["results"]) == {good, down}
    assert both["results"][good]["error"] is None and both["results"][good]["assistant"].strip()
    assert both["results"][down]["status"] == "error" and both["results"][down]["assistant"] == ""
    assert "Ollama is not running" in both["results"][down]["error"]
    assert list(both["errors"]) == [down] and both["errors"][down] == both["results"][down]["error"]


def test_requests_spread_over_endpoints_and_skip_one_that_is_down(tmp_path: Path) -> None:
    with ollama_double() as first, ollama_double() as second:
        for double in (first, second):
            double.token_delay = 0.1
        hosts = ["http://127.0.0.1:9", first.url, second.url]
        with running_arena(make_settings(tmp_path, ollama_hosts=hosts)) as arena:
            results: list[dict] = []

            def ask() -> None:
                with arena.client() as client:
                    results.append(client.post("/api/chat", json={"message": "hi", "models": [LLAMA]}).json())

            threads = [threading.Thread(target=ask) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert [r["response"] for r in results] == ["The sky is blue — Rayleigh scattering."] * 2
        # Both doubles served one chat each: the second request went to the idle endpoint.
        assert len(first.bodies("/api/chat")) == 1
        assert len(second.bodies("/api/chat")) == 1


def test_pull_streams_progress_then_delete(arena_with_ollama: RunningArena, double: OllamaDouble) -> None:
    with arena_with_ollama.client() as client:
        with client.stream("POST", "/api/models/pull", json={"model": "tinyllama"}) as response:
            assert response.status_code == 200
            assert (response.headers["cache-control"], response.headers["x-accel-buffering"]) == ("no-cache", "no")
            progress = list(ndjson_lines(response))
        statuses = [p["status"] for p in progress]
        assert statuses[0] == "pulling manifest" and statuses[-1] == "success"
        downloads = [p for p in progress if p.get("total")]
        assert downloads and downloads[-1]["completed"] == downloads[-1]["total"]
        listed = client.get("/api/models", params={"refresh": True}).json()
        assert "tinyllama:latest" in listed["models"]
        assert "ollama:tinyllama:latest" in {d["id"] for d in listed["details"]}

        deleted = client.request("DELETE", "/api/models/ollama:tinyllama:latest")
        assert deleted.json() == {"status": "deleted", "model": "ollama:tinyllama:latest", "endpoints": [double.url]}
        assert "tinyllama:latest" not in client.get("/api/models", params={"refresh": True}).json()["models"]

        # As with Ollama itself, an unknown name fails after the pull has begun: the last line says so.
        with client.stream("POST", "/api/models/pull", json={"model": "no-such-model"}) as response:
            last = list(ndjson_lines(response))[-1]
        assert last["status"] == "error" and "no-such-model" in last["error"]
        embedded = client.post("/api/delete_model", json={"model": SMOL})
        assert embedded.status_code == 400
        assert "cannot be deleted" in embedded.json()["error"]


def test_pull_model_answers_at_once_and_pulls_in_the_background(
    arena_with_ollama: RunningArena, double: OllamaDouble
) -> None:
    """v3's page posts /api/pull_model, expects `{"status": "downloading"}` at once, then polls /api/models."""
    double.pull_delay = 0.3  # the whole pull takes about two seconds: the answer must not wait for it
    with arena_with_ollama.client() as client:
        started = time.monotonic()
        response = client.post("/api/pull_model", json={"model": "tinyllama"})
        assert time.monotonic() - started < 1.5
        assert response.status_code == 200
        assert response.json() == {"status": "downloading", "model": "tinyllama"}
        deadline = time.monotonic() + 20
        while "tinyllama:latest" not in client.get("/api/models").json()["models"]:
            assert time.monotonic() < deadline, "the background pull never finished"
            time.sleep(0.2)
        # A model no engine can pull is refused at once, not in the background.
        refused = client.post("/api/pull_model", json={"model": SMOL})
        assert refused.status_code == 400 and "cannot be pulled" in refused.json()["error"]
    assert [b["model"] for b in double.bodies("/api/pull")] == ["tinyllama"]
