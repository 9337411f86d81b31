"""REQUEST_TIMEOUT and MAX_CONCURRENT_REQUESTS, as a user meets them."""

from __future__ import annotations

from pathlib import Path

from tests.support.doubles.ollama import ollama_double
from tests.support.server import make_settings, ndjson_lines, running_arena

LLAMA = "ollama:llama3.2:1b"


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


def test_requests_beyond_the_concurrency_limit_are_refused_with_503(tmp_path: Path) -> None:
    with ollama_double() as double:
        double.token_delay = 0.3
        settings = make_settings(tmp_path, ollama_hosts=[double.url], max_concurrent_requests=1)
        with running_arena(settings) as arena, arena.client() as client:
            with client.stream("POST", "/api/stream_chat", json={"message": "hi", "models": [LLAMA]}) as first:
                lines = ndjson_lines(first)
                next(lines)
                next(lines)  # the first request is generating now
                refused = client.post("/api/chat", json={"message": "hi", "models": [LLAMA]})
                assert refused.status_code == 503
                assert "MAX_CONCURRENT_REQUESTS" in refused.json()["error"]
                list(lines)
            # Once it finished, the slot is free again.
            assert client.post("/api/chat", json={"message": "hi", "models": [LLAMA]}).status_code == 200
