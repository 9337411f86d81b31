"""Health, the model list, and the OpenAPI description."""

from __future__ import annotations

from tests.support.server import RunningArena


def test_health_reports_engines(arena: RunningArena) -> None:
    with arena.client() as client:
        health = client.get("/api/health").json()
    assert health["status"] == "healthy"
    assert health["service"] == "local-llm-arena"
    assert health["models_available"] >= 2
    assert health["engines"]["local"][0]["reachable"] is True
    [ollama] = health["engines"]["ollama"]
    assert ollama["reachable"] is False
    assert "Ollama is not running at http://127.0.0.1:9" in ollama["detail"]


def test_models_lists_both_embedded_models_with_details(arena: RunningArena) -> None:
    with arena.client() as client:
        data = client.get("/api/models").json()
    assert {"local:smollm2-135m-instruct", "local:gemma3-270m"} <= set(data["models"])
    smol = next(d for d in data["details"] if d["id"] == "local:smollm2-135m-instruct")
    assert smol["engine"] == "local"
    assert smol["quantization"] == "Q4_1"
    assert smol["size"] > 50_000_000


def test_openapi_describes_every_route(arena: RunningArena) -> None:
    with arena.client() as client:
        spec = client.get("/openapi.json").json()
        docs = client.get("/docs")
        assert docs.status_code == 200
        # Swagger UI is served by the arena itself: the page works with no internet.
        assert "http" not in "".join(line for line in docs.text.splitlines() if "src=" in line or "href=" in line)
        assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    paths = spec["paths"]
    for path in ("/api/health", "/api/models", "/api/chat", "/api/stream_chat", "/api/pull_model", "/api/delete_model"):
        assert path in paths
        for operation in paths[path].values():
            assert operation.get("description") or operation.get("summary")
