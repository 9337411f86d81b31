"""Health, the model list, and the OpenAPI description."""

from __future__ import annotations

from tests.support.fixtures import ArenaFactory
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
    # The legacy list has the bare names v3 compares; each reads back as the same model in a chat.
    assert {"smollm2-135m-instruct", "gemma3-270m"} <= set(data["models"])
    assert {"local:smollm2-135m-instruct", "local:gemma3-270m"} <= {d["id"] for d in data["details"]}
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


ENGINE_URLS = ("127.0.0.1:9", "127.0.0.1:8", "llm.corp.example")


def test_an_anonymous_caller_learns_no_engine_url(arena_factory: ArenaFactory) -> None:
    """Health says the arena is up and how many models it has (what v3 clients read); where the
    engines are is only for a caller with the token. The API description names no engine either."""
    token = "health-test-token-0123456789"
    running = arena_factory(
        web_chat_token=token,
        embedded_enabled=False,
        ollama_hosts=["http://127.0.0.1:9"],
        openai_endpoints="lab=http://127.0.0.1:8/v1",
        cloud_judges="corp=openai_compatible@https://llm.corp.example/v1",
    )
    with running.client() as client:
        anonymous = client.get("/api/health")
        texts = [anonymous.text, client.get("/openapi.json").text, client.get("/docs").text]
        allowed = client.get("/api/health", headers={"Authorization": f"Bearer {token}"}).json()
    assert anonymous.status_code == 200
    assert {"status": "healthy", "service": "local-llm-arena", "models_available": 0}.items() <= anonymous.json().items()
    for text in texts:
        assert not [url for url in ENGINE_URLS if url in text], text[:300]
    assert allowed["engines"]["ollama"][0]["endpoint"] == "http://127.0.0.1:9"
