"""The same API over an OpenAI-compatible server (a real llama_cpp.server) and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.db_fixtures import make_database
from tests.support.llama_server import llama_server
from tests.support.models import SMOL
from tests.support.server import make_settings, ndjson_lines, running_arena


def test_openai_compatible_models_stream_beside_the_embedded_ones(tmp_path: Path) -> None:
    with llama_server() as server:
        endpoints = [{"name": "llamacpp", "base_url": server.base_url}]
        with running_arena(make_settings(tmp_path, openai_endpoints=endpoints)) as arena, arena.client() as client:
            listed = client.get("/api/models").json()
            remote = "openai:llamacpp/smollm2-135m-instruct"
            assert {remote, SMOL} <= {d["id"] for d in listed["details"]}
            # A bare name would mean the local model: the legacy list keeps the remote one's full id.
            assert {remote, "smollm2-135m-instruct"} <= set(listed["models"])
            body = {"message": "Name a planet.", "model_instances": [{"model": remote, "num_predict": 8, "seed": 5}]}
            with client.stream("POST", "/api/stream_chat", json=body) as response:
                lines = list(ndjson_lines(response))
    tokens = [e["token"] for e in lines[1:] if not e["done"]]
    assert "".join(tokens).strip()
    metrics = lines[-1]["metrics"]
    # llama_cpp.server sends no usage: the engine counts what it streamed.
    assert 0 < metrics["tokens"] <= 8
    assert metrics["tokens_per_sec"] > 0


@pytest.mark.postgres
def test_streamed_turn_is_stored_in_postgresql(tmp_path: Path) -> None:
    with make_database("postgresql", tmp_path, migrate=False) as database:
        url = database.url.render_as_string(hide_password=False)
        with running_arena(make_settings(tmp_path, database_url=url)) as arena, arena.client() as client:
            body = {"message": "Say yes.", "model_instances": [{"model": SMOL, "num_predict": 6}, {"model": SMOL, "num_predict": 6, "seed": 9}]}
            with client.stream("POST", "/api/stream_chat", json=body) as response:
                lines = list(ndjson_lines(response))
            stored = client.get(f"/api/conversations/{lines[0]['conversation_id']}").json()
        streamed = {iid: "".join(e["token"] for e in lines[1:] if e["instance_id"] == iid and not e["done"]) for iid in {e["instance_id"] for e in lines[1:]}}
        assert {r["instance_id"]: r["text"] for r in stored["turns"][0]["responses"]} == streamed
        assert all(r["status"] == "ok" for r in stored["turns"][0]["responses"])
        # The app migrated the blank schema itself, through DATABASE_URL.
        assert database.backend == "postgresql"
