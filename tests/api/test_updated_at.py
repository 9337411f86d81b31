"""A conversation's `updated_at` (in its detail, the sidebar's order and its JSON export) moves
with every change to what an export says: a vote and the reveal, not only a new turn."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena, ndjson_lines

INSTANCES = [{"model": "ollama:llama3.2:1b"}, {"model": "ollama:qwen2.5:0.5b"}]


@pytest.fixture
def arena(double: OllamaDouble, arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(ollama_hosts=[double.url], embedded_enabled=False)


def exported_updated_at(client: httpx.Client, conversation_id: str) -> str:
    response = client.get(f"/api/conversations/{conversation_id}/export", params={"format": "json"})
    assert response.status_code == 200, response.text
    return response.json()["conversation"]["updated_at"]


def test_a_vote_and_the_reveal_move_the_exported_updated_at(arena: RunningArena) -> None:
    with arena.client() as client:
        conversation_id = client.post("/api/conversations", json={"blind": True, "model_instances": INSTANCES}).json()[
            "id"
        ]
        with client.stream(
            "POST", "/api/stream_chat", json={"conversation_id": conversation_id, "message": "Hi"}
        ) as response:
            turn_id = list(ndjson_lines(response))[0]["turn_id"]
        answered = exported_updated_at(client, conversation_id)

        time.sleep(0.01)
        voted = client.post(
            f"/api/conversations/{conversation_id}/votes", json={"turn_id": turn_id, "kind": "pairwise", "value": "A"}
        )
        assert voted.status_code == 201, voted.text
        after_vote = exported_updated_at(client, conversation_id)
        assert after_vote > answered

        time.sleep(0.01)
        assert client.post(f"/api/conversations/{conversation_id}/reveal").status_code == 200
        after_reveal = exported_updated_at(client, conversation_id)
        assert after_reveal > after_vote
        assert client.get(f"/api/conversations/{conversation_id}").json()["updated_at"].startswith(after_reveal[:19])
