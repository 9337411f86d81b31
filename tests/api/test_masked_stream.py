"""A masked (blind, unrevealed) conversation over real HTTP: errors say nothing of the engine,
and the stream's token lines tell neither the token count nor the tokenizer.

SmolLM2 answers through the embedded engine beside an OpenAI-compatible endpoint that is down
(nothing listens on its port).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.support.fixtures import ArenaFactory
from tests.support.models import SMOL
from tests.support.process import free_port
from tests.support.server import RunningArena

PORT = free_port()  # nothing listens here: the endpoint is down
REMOTE = "openai:lcpp/smollm-remote"
# What the endpoint's own error says: its name, URL, engine and model.
GIVEAWAYS = ("lcpp", "127.0.0.1", str(PORT), "http", "/v1", "openai", "smollm", "is it running")
UNREACHABLE = "its engine could not be reached or was busy (the details show after the reveal)"


@pytest.fixture(scope="module")
def arena(module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(openai_endpoints=[{"name": "lcpp", "base_url": f"http://127.0.0.1:{PORT}/v1"}])


@pytest.fixture
def client(arena: RunningArena) -> Iterator[httpx.Client]:
    with arena.client() as http:
        yield http


def create_blind(client: httpx.Client, *instances: dict) -> str:
    response = client.post("/api/conversations", json={"blind": True, "model_instances": list(instances)})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def stream(client: httpx.Client, body: dict, line_format: str = "arena") -> list[dict]:
    with client.stream("POST", f"/api/stream_chat?format={line_format}", json=body) as response:
        assert response.status_code == 200, response.read()
        return [json.loads(row) for row in response.read().decode().splitlines() if row.strip()]


def assert_says_nothing_of_the_endpoint(text: str) -> None:
    for word in GIVEAWAYS:
        assert word not in text.lower(), f"{word!r} gives the endpoint away"


@pytest.mark.parametrize("line_format", ["arena", "v3"])
def test_an_endpoint_that_is_down_shows_a_generic_error_until_the_reveal(
    client: httpx.Client, line_format: str
) -> None:
    conversation = create_blind(client, {"model": SMOL, "num_predict": 4, "seed": 1}, {"model": REMOTE})

    lines = stream(client, {"conversation_id": conversation, "message": "Say hi."}, line_format)

    (failed,) = [row for row in lines if row.get("done") and row.get("error")]
    assert failed["error"] == UNREACHABLE  # labels are drawn at random: either may be the endpoint
    detail = client.get(f"/api/conversations/{conversation}")
    (answer,) = [r for r in detail.json()["turns"][0]["responses"] if r["key"] == failed["instance_id"]]
    assert (answer["status"], answer["error"]) == ("error", UNREACHABLE)
    exports = [client.get(f"/api/conversations/{conversation}/export?format={f}").text for f in ("json", "markdown")]
    assert UNREACHABLE in exports[1]
    for shown in (json.dumps(lines), detail.text, *exports):
        assert_says_nothing_of_the_endpoint(shown)

    assert client.post(f"/api/conversations/{conversation}/reveal").status_code == 200
    revealed = client.get(f"/api/conversations/{conversation}").json()
    (answer,) = [r for r in revealed["turns"][0]["responses"] if r["error"]]
    # The full text was stored: after the reveal it says what to fix.
    assert f"127.0.0.1:{PORT}" in answer["error"] and "lcpp" in answer["error"]


def test_a_masked_stream_sends_time_slices_not_one_line_per_token(client: httpx.Client) -> None:
    conversation = create_blind(client, *({"model": SMOL, "num_predict": 40, "seed": s} for s in (1, 2)))

    lines = stream(client, {"conversation_id": conversation, "message": "Tell me a long story about a cat."})

    client.post(f"/api/conversations/{conversation}/reveal")
    stored = client.get(f"/api/conversations/{conversation}").json()["turns"][0]["responses"]
    assert sorted(answer["label"] for answer in stored) == ["Model A", "Model B"]
    for answer in stored:
        pieces = [row["token"] for row in lines[1:] if row["instance_id"] == answer["label"] and not row["done"]]
        assert "".join(pieces) == answer["text"]  # the text is unchanged
        assert answer["tokens"] >= 20
        # SmolLM2 writes many tokens per 200 ms slice, even on a busy machine.
        assert len(pieces) <= answer["tokens"] // 2, "one line per token tells the count and the tokenizer"


def test_an_open_conversation_still_streams_one_line_per_token(client: httpx.Client) -> None:
    body = {"message": "Tell me a story.", "model_instances": [{"model": SMOL, "num_predict": 12, "seed": 1}]}

    lines = stream(client, body)

    stored = client.get(f"/api/conversations/{lines[0]['conversation_id']}").json()["turns"][0]["responses"]
    pieces = [row["token"] for row in lines[1:] if not row["done"]]
    assert len(pieces) == stored[0]["tokens"] and "".join(pieces) == stored[0]["text"]
