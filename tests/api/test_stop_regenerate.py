"""Stopping one answer of a stream, and answering a turn again, over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory, module_double
from tests.support.server import RunningArena, ndjson_lines

LLAMA = "ollama:llama3.2:1b"
QWEN = "ollama:qwen2.5:0.5b"
LLAMA_ID = "ollama_llama3.2_1b__0.7_0.9_40_1.1_-1_0"
QWEN_ID = "ollama_qwen2.5_0.5b__0.7_0.9_40_1.1_-1_0"
SLOW_REPLY = [f" word{i}" for i in range(40)]
# Stop and regenerate are the arena page's, which reads the arena's own lines.
STREAM = "/api/stream_chat?format=arena"


# One double for the whole module: its arena and its tests see the same one.
double = module_double


@pytest.fixture(scope="module")
def arena(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(ollama_hosts=[double.url])


@pytest.fixture
def client(arena: RunningArena, double: OllamaDouble) -> Iterator[httpx.Client]:
    double.reply, double.token_delay = ["First", " answer"], 0.0
    with arena.client() as http:
        yield http


def stream_turn(client: httpx.Client, body: dict) -> list[dict]:
    with client.stream("POST", STREAM, json=body) as response:
        assert response.status_code == 200, response.read()
        return list(ndjson_lines(response))


def tokens_of(lines: list[dict], key: str) -> str:
    return "".join(e["token"] for e in lines[1:] if e["instance_id"] == key and not e["done"])


def stream_and_stop(client: httpx.Client, body: dict, *, stop_key: str) -> tuple[list[dict], httpx.Response]:
    """Stream, and stop `stop_key` as soon as its first token arrives."""
    lines: list[dict] = []
    stop: httpx.Response | None = None
    with client.stream("POST", STREAM, json=body) as response:
        for event in ndjson_lines(response):
            lines.append(event)
            if stop is None and event.get("instance_id") == stop_key and event.get("token"):
                stop = client.post("/api/stop", json={"turn_id": lines[0]["turn_id"], "key": stop_key})
    assert stop is not None, "the instance never sent a token"
    return lines, stop


def test_stopping_one_instance_leaves_the_other_to_finish(client: httpx.Client, double: OllamaDouble) -> None:
    double.reply, double.token_delay = SLOW_REPLY, 0.03
    body = {"message": "Say forty words.", "model_instances": [{"model": LLAMA}, {"model": QWEN}]}
    lines, stop = stream_and_stop(client, body, stop_key=LLAMA_ID)
    assert stop.status_code == 200 and stop.json() == {"stopped": True}

    done = {e["instance_id"]: e for e in lines[1:] if e["done"]}
    assert done[LLAMA_ID]["status"] == "stopped" and done[LLAMA_ID]["error"]
    assert "error" not in done[QWEN_ID] and done[QWEN_ID]["metrics"]["tokens"] == 40
    stopped_text = tokens_of(lines, LLAMA_ID)
    assert stopped_text and len(stopped_text) < len("".join(SLOW_REPLY))

    detail = client.get(f"/api/conversations/{lines[0]['conversation_id']}").json()
    answers = {r["key"]: r for r in detail["turns"][0]["responses"]}
    assert answers[LLAMA_ID]["status"] == "stopped"
    assert answers[LLAMA_ID]["text"] == stopped_text, "the partial text is kept"
    assert answers[QWEN_ID]["status"] == "ok" and answers[QWEN_ID]["text"] == "".join(SLOW_REPLY)

    late = client.post("/api/stop", json={"turn_id": lines[0]["turn_id"], "key": QWEN_ID})
    assert late.status_code == 404 and "is streaming" in late.json()["error"]


def test_a_blind_stream_is_stopped_by_label_only(client: httpx.Client, double: OllamaDouble) -> None:
    double.reply, double.token_delay = SLOW_REPLY, 0.03
    created = client.post(
        "/api/conversations", json={"blind": True, "model_instances": [{"model": LLAMA}, {"model": QWEN}]}
    ).json()
    body = {"conversation_id": created["id"], "message": "Say forty words."}
    lines: list[dict] = []
    with client.stream("POST", STREAM, json=body) as response:
        for event in ndjson_lines(response):
            lines.append(event)
            if len(lines) == 2:
                turn_id = lines[0]["turn_id"]
                # The instance id stays hidden: it is no key while the conversation is blind.
                guess = client.post("/api/stop", json={"turn_id": turn_id, "key": LLAMA_ID})
                assert guess.status_code == 404
                assert client.post("/api/stop", json={"turn_id": turn_id, "key": "Model B"}).status_code == 200
    done = {e["instance_id"]: e for e in lines[1:] if e["done"]}
    assert done["Model B"]["status"] == "stopped"
    assert "status" not in done["Model A"]
    assert "llama" not in json.dumps(lines) and "qwen" not in json.dumps(lines)


def test_regenerate_adds_an_answer_to_the_same_turn(client: httpx.Client, double: OllamaDouble) -> None:
    instances = [{"model": LLAMA}, {"model": QWEN}]
    first = stream_turn(client, {"message": "First question", "model_instances": instances})
    conversation_id, first_turn = first[0]["conversation_id"], first[0]["turn_id"]
    stream_turn(client, {"conversation_id": conversation_id, "message": "Second question"})

    double.reply = ["Fresh", " take"]
    again = stream_turn(
        client, {"conversation_id": conversation_id, "regenerate": {"turn_id": first_turn, "key": LLAMA_ID}}
    )
    assert again[0]["turn_id"] == first_turn and again[0]["conversation_id"] == conversation_id
    assert again[0]["instances"] == [{"instance_id": LLAMA_ID, "model": LLAMA}]
    assert tokens_of(again, LLAMA_ID) == "Fresh take"
    # The model saw the turn as it was first asked: nothing from later turns, not its old answer.
    assert double.bodies("/api/chat")[-1]["messages"] == [{"role": "user", "content": "First question"}]

    detail = client.get(f"/api/conversations/{conversation_id}").json()
    assert [t["user_text"] for t in detail["turns"]] == ["First question", "Second question"], "no new turn"
    answers = {r["key"]: r["text"] for r in detail["turns"][0]["responses"]}
    assert answers == {LLAMA_ID: "Fresh take", QWEN_ID: "First answer"}
    assert len(detail["turns"][0]["responses"]) == 2, "the detail shows the newest answer only"

    # The next turn continues from the regenerated answer.
    stream_turn(client, {"conversation_id": conversation_id, "message": "Third question"})
    sent = [b for b in double.bodies("/api/chat") if b["model"] == "llama3.2:1b"][-1]["messages"]
    assert sent[:2] == [
        {"role": "user", "content": "First question"},
        {"role": "assistant", "content": "Fresh take"},
    ]


def test_regenerate_in_a_blind_conversation_uses_the_label(client: httpx.Client, double: OllamaDouble) -> None:
    created = client.post(
        "/api/conversations", json={"blind": True, "model_instances": [{"model": LLAMA}, {"model": QWEN}]}
    ).json()
    turn_id = stream_turn(client, {"conversation_id": created["id"], "message": "Hello"})[0]["turn_id"]
    double.reply = ["Again"]
    lines = stream_turn(client, {"regenerate": {"turn_id": turn_id, "key": "Model A"}})
    assert lines[0]["instances"] == [{"instance_id": "Model A", "model": "Model A"}]
    assert lines[-1] == {**lines[-1], "instance_id": "Model A", "model": "Model A", "done": True}
    answers = client.get(f"/api/conversations/{created['id']}").json()["turns"][0]["responses"]
    assert [(r["key"], r["text"]) for r in answers] == [("Model A", "Again"), ("Model B", "First answer")]


def test_regenerate_refuses_what_makes_no_sense(client: httpx.Client, double: OllamaDouble) -> None:
    lines = stream_turn(client, {"message": "Hi", "model_instances": [{"model": LLAMA}, {"model": QWEN}]})
    conversation_id, turn_id = lines[0]["conversation_id"], lines[0]["turn_id"]
    calls = len(double.bodies("/api/chat"))
    cases = [
        ({"message": "Hi again", "regenerate": {"turn_id": turn_id, "key": LLAMA_ID}}, 400, "send no message"),
        ({"regenerate": {"turn_id": 999_999, "key": LLAMA_ID}}, 404, "999999"),
        ({"conversation_id": "0" * 32, "regenerate": {"turn_id": turn_id, "key": LLAMA_ID}}, 404, "not part of"),
        ({"regenerate": {"turn_id": turn_id, "key": "ollama_mistral__0.7"}}, 404, "no model instance"),
        ({"regenerate": {"turn_id": turn_id}}, 422, "regenerate.key"),
    ]
    for body, status, words in cases:
        response = client.post("/api/stream_chat", json=body)
        assert response.status_code == status, (body, response.text)
        assert words in response.json()["error"], (body, response.text)
    assert len(double.bodies("/api/chat")) == calls, "no generation started"
    detail = client.get(f"/api/conversations/{conversation_id}").json()
    assert len(detail["turns"]) == 1 and len(detail["turns"][0]["responses"]) == 2


def test_an_answer_still_streaming_cannot_be_regenerated(client: httpx.Client, double: OllamaDouble) -> None:
    double.reply, double.token_delay = SLOW_REPLY, 0.03
    body = {"message": "Say forty words.", "model_instances": [{"model": LLAMA}]}
    with client.stream("POST", STREAM, json=body) as response:
        lines = ndjson_lines(response)
        turn_id = next(lines)["turn_id"]
        clash = client.post("/api/stream_chat", json={"regenerate": {"turn_id": turn_id, "key": LLAMA_ID}})
        assert clash.status_code == 409 and "still answering" in clash.json()["error"]
        conversation_id = client.get("/api/conversations", params={"limit": 1}).json()["conversations"][0]["id"]
        [answer] = client.get(f"/api/conversations/{conversation_id}").json()["turns"][-1]["responses"]
        assert (answer["status"], answer["html"]) == ("streaming", None), "no HTML until the answer is finished"
        assert client.post("/api/stop", json={"turn_id": turn_id, "key": LLAMA_ID}).status_code == 200
        assert [e.get("status") for e in lines if e["done"]] == ["stopped"]


def test_each_done_line_names_the_stored_answer_it_ends(client: httpx.Client, double: OllamaDouble) -> None:
    created = client.post(
        "/api/conversations", json={"blind": True, "model_instances": [{"model": LLAMA}, {"model": QWEN}]}
    ).json()
    lines = stream_turn(client, {"conversation_id": created["id"], "message": "Hello"})
    ended = {e["instance_id"]: e["response_id"] for e in lines[1:] if e["done"]}
    answers = client.get(f"/api/conversations/{created['id']}").json()["turns"][0]["responses"]
    assert ended == {r["key"]: r["id"] for r in answers} and len(ended) == 2

    # A regenerate's done line names its new row, never the answer it replaces.
    double.reply = ["Again"]
    again = stream_turn(client, {"regenerate": {"turn_id": lines[0]["turn_id"], "key": "Model A"}})
    answers = client.get(f"/api/conversations/{created['id']}").json()["turns"][0]["responses"]
    newest = {r["key"]: (r["id"], r["text"]) for r in answers}
    assert again[-1]["response_id"] == newest["Model A"][0] != ended["Model A"]
    assert newest["Model A"][1] == "Again"
