"""Blind comparisons over real HTTP: create, stream masked, vote, reveal, and votes closing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory, module_double
from tests.support.server import RunningArena

LLAMA = "ollama:llama3.2:1b"
QWEN = "ollama:qwen2.5:0.5b"
# Anything that would tell a voter which model is which.
GIVEAWAYS = ("llama", "qwen", "ollama", "temperature", "seed")


# One double for the whole module: its arena and its tests see the same one.
double = module_double


@pytest.fixture(scope="module")
def arena(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(ollama_hosts=[double.url])


@pytest.fixture
def client(arena: RunningArena, double: OllamaDouble) -> Iterator[httpx.Client]:
    double.reply = ["**Blue**", " because", " of", " Rayleigh", " scattering."]
    with arena.client() as http:
        yield http


def create_blind(client: httpx.Client, *models: str, **settings: object) -> dict:
    body = {"blind": True, "model_instances": [{"model": m, "temperature": 0.5, "seed": 3, **settings} for m in models]}
    response = client.post("/api/conversations", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def stream_turn(client: httpx.Client, body: dict) -> tuple[str, list[dict]]:
    with client.stream("POST", "/api/stream_chat", json=body) as response:
        assert response.status_code == 200, response.read()
        raw = response.read().decode()
    return raw, [json.loads(row) for row in raw.splitlines() if row.strip()]


def assert_hides_models(text: str) -> None:
    for word in GIVEAWAYS:
        assert word not in text.lower(), f"{word!r} gives the models away"


def test_blind_flow_masks_everything_until_the_reveal_then_closes_voting(client: httpx.Client) -> None:
    created = create_blind(client, LLAMA, QWEN)
    conversation_id = created["id"]
    assert created["blind"] is True and created["revealed_at"] is None
    assert created["instances"] == [{"key": "Model A", "label": "Model A"}, {"key": "Model B", "label": "Model B"}]

    raw, lines = stream_turn(client, {"conversation_id": conversation_id, "message": "Why is the sky blue?"})
    assert_hides_models(raw)
    head, events = lines[0], lines[1:]
    assert head["instances"] == [
        {"instance_id": "Model A", "model": "Model A"},
        {"instance_id": "Model B", "model": "Model B"},
    ]
    turn_id = head["turn_id"]
    done = {e["instance_id"]: e for e in events if e["done"]}
    assert set(done) == {"Model A", "Model B"} and all("error" not in e for e in done.values())
    assert {e["model"] for e in events} == {"Model A", "Model B"}

    detail = client.get(f"/api/conversations/{conversation_id}")
    assert_hides_models(detail.text)
    [turn] = detail.json()["turns"]
    assert [r["key"] for r in turn["responses"]] == ["Model A", "Model B"]
    for answer in turn["responses"]:
        assert answer["text"] == "**Blue** because of Rayleigh scattering."
        assert answer["html"] == "<p><strong>Blue</strong> because of Rayleigh scattering.</p>"
        assert answer["votes"] == {"up": 0, "down": 0}
        assert "instance_id" not in answer

    thumb = client.post(
        f"/api/conversations/{conversation_id}/votes",
        json={"turn_id": turn_id, "kind": "thumb", "key": "Model A", "value": "up"},
    )
    assert thumb.status_code == 201
    assert thumb.json()["kind"] == "thumb" and thumb.json()["value"] == "up"
    down = client.post(
        f"/api/conversations/{conversation_id}/votes",
        json={"turn_id": turn_id, "kind": "thumb", "key": "Model B", "value": "down"},
    )
    assert down.status_code == 201
    pairwise = client.post(
        f"/api/conversations/{conversation_id}/votes", json={"turn_id": turn_id, "kind": "pairwise", "value": "A"}
    )
    assert pairwise.status_code == 201 and pairwise.json()["value"] == "A"

    voted = client.get(f"/api/conversations/{conversation_id}").json()
    assert [r["votes"] for r in voted["turns"][0]["responses"]] == [{"up": 1, "down": 0}, {"up": 0, "down": 1}]
    assert voted["pairwise_votes"] == [{"turn_id": turn_id, "value": "A"}]

    revealed = client.post(f"/api/conversations/{conversation_id}/reveal")
    assert revealed.status_code == 200
    mapping = revealed.json()["mapping"]
    assert revealed.json()["revealed_at"]
    assert [m["label"] for m in mapping] == ["Model A", "Model B"]
    assert {m["model"] for m in mapping} == {LLAMA, QWEN}
    assert [(m["up"], m["down"], m["pairwise_wins"]) for m in mapping] == [(1, 0, 1), (0, 1, 0)]
    for m in mapping:
        assert (m["temperature"], m["top_p"], m["top_k"], m["repeat_penalty"], m["num_predict"], m["seed"]) == (
            0.5, 0.9, 40, 1.1, -1, 3,
        )  # fmt: skip
        assert m["instance_id"] == f"{m['model'].replace(':', '_')}__0.5_0.9_40_1.1_-1_3"

    closed = client.post(
        f"/api/conversations/{conversation_id}/votes",
        json={"turn_id": turn_id, "kind": "thumb", "key": mapping[0]["instance_id"], "value": "down"},
    )
    assert closed.status_code == 409
    assert closed.json() == {"error": "voting is closed: the models of this conversation were revealed"}
    again = client.post(f"/api/conversations/{conversation_id}/reveal").json()
    assert again == revealed.json(), "revealing twice changes nothing"

    after = client.get(f"/api/conversations/{conversation_id}").json()
    assert after["revealed_at"] == revealed.json()["revealed_at"]
    assert [(i["key"], i["label"], i["model"]) for i in after["instances"]] == [
        (m["instance_id"], m["label"], m["model"]) for m in mapping
    ]
    assert [r["instance_id"] for r in after["turns"][0]["responses"]] == [m["instance_id"] for m in mapping]
    assert [r["votes"] for r in after["turns"][0]["responses"]] == [{"up": 1, "down": 0}, {"up": 0, "down": 1}]


def test_an_engine_error_naming_the_model_is_masked(client: httpx.Client, double: OllamaDouble) -> None:
    conversation_id = create_blind(client, LLAMA, QWEN)["id"]
    gone = double.models.pop("qwen2.5:0.5b")  # removed after the conversation was made
    try:
        raw, lines = stream_turn(client, {"conversation_id": conversation_id, "message": "Hello"})
    finally:
        double.models[gone.tagged_name] = gone
    assert_hides_models(raw)
    failed = [e for e in lines[1:] if e.get("done") and e.get("status") == "error"]
    assert len(failed) == 1
    # The engine named the model ("model 'qwen2.5:0.5b' is not pulled"); the client sees a fixed sentence.
    assert failed[0]["error"] == "its engine refused the request (the details show after the reveal)"
    stored = client.get(f"/api/conversations/{conversation_id}")
    assert_hides_models(stored.text)
    assert "error" in {r["status"] for r in stored.json()["turns"][0]["responses"]}


def test_blind_display_order_is_shuffled_once_per_conversation(client: httpx.Client) -> None:
    models = [LLAMA, QWEN, "local:smollm2-135m-instruct"]
    orders = set()
    for _ in range(12):
        conversation_id = create_blind(client, *models)["id"]
        first = client.post(f"/api/conversations/{conversation_id}/reveal").json()["mapping"]
        orders.add(tuple(m["model"] for m in first))
        # Once chosen, the order stays: the detail shows the same one.
        detail = client.get(f"/api/conversations/{conversation_id}").json()
        assert tuple(i["model"] for i in detail["instances"]) == tuple(m["model"] for m in first)
    assert len(orders) > 1, "twelve blind conversations all had the same order"

    open_ = client.post("/api/conversations", json={"model_instances": [{"model": m} for m in models]}).json()
    assert [i["model"] for i in open_["instances"]] == models, "an open conversation keeps the order given"
    assert [i["label"] for i in open_["instances"]] == ["Model A", "Model B", "Model C"]
    assert open_["instances"][0]["key"] == "ollama_llama3.2_1b__0.7_0.9_40_1.1_-1_0"


def test_creating_a_conversation_checks_its_instances(client: httpx.Client) -> None:
    before = len(client.get("/api/conversations").json()["conversations"])
    duplicate = client.post("/api/conversations", json={"model_instances": [{"model": LLAMA}, {"model": LLAMA}]})
    assert duplicate.status_code == 400
    assert duplicate.json() == {"error": "Duplicate model instance detected: ollama_llama3.2_1b__0.7_0.9_40_1.1_-1_0"}
    nine = [{"model": LLAMA, "seed": seed} for seed in range(1, 10)]  # ARENA_MAX_INSTANCES is 8
    too_many = client.post("/api/conversations", json={"model_instances": nine})
    assert too_many.status_code == 400 and "Too many model instances: 9" in too_many.json()["error"]
    hot = client.post("/api/conversations", json={"model_instances": [{"model": LLAMA, "temperature": 2.5}]})
    assert hot.status_code == 422 and "temperature" in hot.json()["error"]
    unknown = client.post("/api/conversations", json={"blind": True, "model_instances": [{"model": "ollama:mistral"}]})
    assert unknown.status_code == 404 and "mistral" in unknown.json()["error"]
    assert len(client.get("/api/conversations").json()["conversations"]) == before, "nothing half-written"

    titled = client.post("/api/conversations", json={"title": "Sky colours", "model_instances": [{"model": LLAMA}]})
    assert titled.status_code == 201 and titled.json()["title"] == "Sky colours"


def test_an_untitled_conversation_takes_its_first_message_as_title(client: httpx.Client) -> None:
    conversation_id = create_blind(client, LLAMA, QWEN)["id"]
    stream_turn(client, {"conversation_id": conversation_id, "message": "Which ocean is the deepest?"})
    stream_turn(client, {"conversation_id": conversation_id, "message": "And the shallowest?"})
    detail = client.get(f"/api/conversations/{conversation_id}").json()
    assert detail["title"] == "Which ocean is the deepest?"
    assert [t["user_text"] for t in detail["turns"]] == ["Which ocean is the deepest?", "And the shallowest?"]


def test_votes_refuse_what_makes_no_sense(client: httpx.Client) -> None:
    three = create_blind(client, LLAMA, QWEN, "local:smollm2-135m-instruct")["id"]
    two = create_blind(client, LLAMA, QWEN)["id"]
    _, lines = stream_turn(client, {"conversation_id": two, "message": "Hi"})
    turn_id = lines[0]["turn_id"]
    instance_id = "ollama_llama3.2_1b__0.5_0.9_40_1.1_-1_3"

    def vote(conversation_id: str, body: dict) -> httpx.Response:
        return client.post(f"/api/conversations/{conversation_id}/votes", json=body)

    cases = [
        (three, {"turn_id": turn_id, "kind": "pairwise", "value": "A"}, 404, "not part of conversation"),
        (two, {"turn_id": turn_id, "kind": "thumb", "key": "Model Z", "value": "up"}, 404, "Model Z"),
        # While blind, the instance id is no key: guessing it must not work either.
        (two, {"turn_id": turn_id, "kind": "thumb", "key": instance_id, "value": "up"}, 404, "no model instance"),
        (two, {"turn_id": turn_id, "kind": "thumb", "key": "Model A", "value": "sideways"}, 422, "value"),
        (two, {"turn_id": turn_id, "kind": "pairwise", "value": "C"}, 422, "value"),
        (two, {"turn_id": turn_id, "kind": "stars", "value": "5"}, 422, "kind"),
        (two, {"turn_id": 999_999, "kind": "pairwise", "value": "A"}, 404, "999999"),
        ("0" * 32, {"turn_id": turn_id, "kind": "pairwise", "value": "A"}, 404, "does not exist"),
    ]
    for conversation_id, body, status, words in cases:
        response = vote(conversation_id, body)
        assert response.status_code == status, (body, response.text)
        assert words in response.json()["error"], (body, response.text)

    _, lines3 = stream_turn(client, {"conversation_id": three, "message": "Hi"})
    pairwise3 = vote(three, {"turn_id": lines3[0]["turn_id"], "kind": "pairwise", "value": "tie"})
    assert pairwise3.status_code == 400
    assert pairwise3.json() == {"error": "a pairwise vote needs exactly two model instances; this conversation has 3"}
    assert client.get(f"/api/conversations/{two}").json()["pairwise_votes"] == []


def test_an_open_conversation_cannot_be_revealed_and_keeps_voting(client: httpx.Client) -> None:
    _, lines = stream_turn(client, {"message": "Hi", "model_instances": [{"model": LLAMA}, {"model": QWEN}]})
    conversation_id, turn_id = lines[0]["conversation_id"], lines[0]["turn_id"]
    assert lines[0]["instances"][0] == {"instance_id": "ollama_llama3.2_1b__0.7_0.9_40_1.1_-1_0", "model": LLAMA}
    refused = client.post(f"/api/conversations/{conversation_id}/reveal")
    assert refused.status_code == 409 and "not blind" in refused.json()["error"]
    key = "ollama_qwen2.5_0.5b__0.7_0.9_40_1.1_-1_0"
    for value in ("up", "down"):  # a second thumb replaces the first
        response = client.post(
            f"/api/conversations/{conversation_id}/votes",
            json={"turn_id": turn_id, "kind": "thumb", "key": key, "value": value},
        )
        assert response.status_code == 201
    answers = client.get(f"/api/conversations/{conversation_id}").json()["turns"][0]["responses"]
    assert {r["key"]: r["votes"] for r in answers}[key] == {"up": 0, "down": 1}


def test_the_non_streaming_chat_of_a_blind_conversation_is_masked_too(client: httpx.Client) -> None:
    conversation_id = create_blind(client, LLAMA, QWEN)["id"]
    response = client.post("/api/chat", json={"conversation_id": conversation_id, "message": "Hello"})
    assert response.status_code == 200
    assert_hides_models(response.text)
    results = response.json()["results"]
    assert sorted(results) == ["Model A", "Model B"]
    assert {r["model"] for r in results.values()} == {"Model A", "Model B"}


def test_a_masked_conversation_takes_no_instances_named_so_none_can_be_asked_who_is_who(
    client: httpx.Client,
) -> None:
    """Named, a member would answer under its label and a stranger join as "Model C": an oracle."""
    conversation_id = create_blind(client, LLAMA, QWEN)["id"]
    member = {"model": LLAMA, "temperature": 0.5, "seed": 3}
    for named in ([member], [{"model": QWEN}], [member, {"model": QWEN, "temperature": 0.5, "seed": 3}]):
        for route in ("/api/stream_chat", "/api/chat"):
            body = {"conversation_id": conversation_id, "message": "Hi", "model_instances": named}
            refused = client.post(route, json=body)
            assert refused.status_code == 409, refused.text
            assert "send no model_instances" in refused.json()["error"]
    detail = client.get(f"/api/conversations/{conversation_id}").json()
    assert detail["turns"] == [] and [i["label"] for i in detail["instances"]] == ["Model A", "Model B"]

    _, lines = stream_turn(client, {"conversation_id": conversation_id, "message": "Hi"})  # its own instances
    assert [i["instance_id"] for i in lines[0]["instances"]] == ["Model A", "Model B"]
    client.post(f"/api/conversations/{conversation_id}/reveal")
    body = {"conversation_id": conversation_id, "message": "Hi", "model_instances": [member]}
    _, lines = stream_turn(client, body)  # revealed: nothing left to hide
    assert [i["model"] for i in lines[0]["instances"]] == [LLAMA]
