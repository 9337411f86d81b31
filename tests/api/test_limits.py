"""REQUEST_TIMEOUT and MAX_CONCURRENT_REQUESTS, as a user meets them (the per-user cap and
ARENA_MAX_GENERATIONS: test_generation_budget.py)."""

from __future__ import annotations

from pathlib import Path

from tests.support.doubles.ollama import ollama_double
from tests.support.server import make_settings, ndjson_lines, running_arena

LLAMA, QWEN = "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"


def test_an_answer_slower_than_the_timeout_is_that_instances_error(tmp_path: Path) -> None:
    with ollama_double() as double:
        double.first_token_delay = 3.0
        settings = make_settings(tmp_path, ollama_hosts=[double.url], request_timeout=0.5)
        with running_arena(settings) as arena, arena.client() as client:
            with client.stream("POST", "/api/stream_chat", json={"message": "hi", "models": [LLAMA]}) as response:
                lines = list(ndjson_lines(response))
            stored = client.get(f"/api/conversations/{lines[0]['conversation_id']}").json()
    assert lines[-1]["done"] is True
    assert "no complete answer within 0.5 s (REQUEST_TIMEOUT)" in lines[-1]["error"]
    assert stored["turns"][0]["responses"][0]["status"] == "error"


def test_a_v3_request_limit_becomes_that_many_full_comparisons(tmp_path: Path) -> None:
    """MAX_CONCURRENT_REQUESTS counted requests in v3; the budget counts instance generations, so
    unless ARENA_MAX_GENERATIONS is set it is MAX_CONCURRENT_REQUESTS × ARENA_MAX_INSTANCES."""
    pair = {"message": "hi", "model_instances": [{"model": LLAMA}, {"model": QWEN}]}
    with ollama_double() as double:
        double.token_delay = 0.3
        settings = make_settings(
            tmp_path, ollama_hosts=[double.url], max_concurrent_requests=1, max_instances=2, queue_timeout_s=0.3
        )
        assert settings.max_generations == 2
        with running_arena(settings) as arena, arena.client() as client:
            with client.stream("POST", "/api/stream_chat", json=pair) as first:
                lines = ndjson_lines(first)
                next(lines)
                next(lines)  # the first request is generating now, with both its instances
                # The third generation waits its turn (ARENA_QUEUE_TIMEOUT_S), then is refused.
                refused = client.post("/api/chat", json={"message": "hi", "models": [LLAMA]})
                assert refused.status_code == 503 and refused.headers["Retry-After"]
                assert "MAX_CONCURRENT_REQUESTS" in refused.json()["error"]
                assert "ARENA_MAX_GENERATIONS" in refused.json()["error"]
                list(lines)
            # Once it finished, both units are free again: a v3 config still runs its full comparison.
            assert client.post("/api/chat", json=pair).status_code == 200
