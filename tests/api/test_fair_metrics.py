"""Fair metrics over real HTTP: cache state, prompt time and finish reason with every answer,
its generation round, metrics kept back while blind, and a regenerate reopening a pairwise vote."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import httpx
import pytest

from arena.web.schemas.stream import V3MetricsLine
from tests.support.doubles.ollama import ChatMetrics, OllamaDouble
from tests.support.fixtures import ArenaFactory, module_double
from tests.support.models import SMOL
from tests.support.server import RunningArena, ndjson_lines

LLAMA = "ollama:llama3.2:1b"
QWEN = "ollama:qwen2.5:0.5b"
REPLY = ["One", " two", " three", " four", " five"]
ARENA = "/api/stream_chat?format=arena"
PROMPT_S = 0.3425  # the double's prompt_eval_duration, 342_546_000 ns, rounded as stored

double = module_double


@pytest.fixture(scope="module")
def arena(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(ollama_hosts=[double.url])


@pytest.fixture
def client(arena: RunningArena, double: OllamaDouble) -> Iterator[httpx.Client]:
    double.reply, double.token_delay, double.metrics = list(REPLY), 0.0, ChatMetrics()
    with arena.client() as http:
        yield http


def stream(client: httpx.Client, path: str, body: dict) -> list[dict]:
    with client.stream("POST", path, json=body) as response:
        assert response.status_code == 200, response.read()
        return list(ndjson_lines(response))


def done_lines(lines: list[dict]) -> dict[str, dict]:
    return {line["instance_id"]: line for line in lines[1:] if line["done"]}


def answers(client: httpx.Client, conversation_id: str, **params: str) -> dict[str, dict]:
    response = client.get(f"/api/conversations/{conversation_id}", params=params)
    assert response.status_code == 200, response.text
    return {r["key"]: r for r in response.json()["turns"][-1]["responses"]}


def create_blind(client: httpx.Client) -> str:
    body = {"blind": True, "model_instances": [{"model": LLAMA}, {"model": QWEN}]}
    response = client.post("/api/conversations", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_every_answer_says_its_prompt_time_cache_state_and_why_it_ended(client: httpx.Client) -> None:
    body = {
        "message": "Count to five.",
        "model_instances": [{"model": LLAMA, "num_predict": 2}, {"model": QWEN}],
    }
    lines = stream(client, ARENA, body)
    done = {line["model"]: line["metrics"] for line in done_lines(lines).values()}
    # Stopped at the token limit, and said so; the other ran to its natural end.
    assert done[LLAMA]["finish_reason"] == "length" and done[LLAMA]["tokens"] == 2
    assert done[QWEN]["finish_reason"] == "stop" and done[QWEN]["tokens"] == len(REPLY)
    for metrics in done.values():
        assert metrics["prompt_s"] == PROMPT_S  # Ollama's prompt_eval_duration
        assert metrics["cached_prompt_tokens"] is None  # Ollama does not say: unknown, not 0

    # Stored with the answer, and returned with it.
    stored = answers(client, lines[0]["conversation_id"])
    by_model = {r["instance_id"].split("__")[0]: r for r in stored.values()}
    limited, natural = by_model["ollama_llama3.2_1b"], by_model["ollama_qwen2.5_0.5b"]
    assert (limited["finish_reason"], natural["finish_reason"]) == ("length", "stop")
    assert limited["prompt_s"] == PROMPT_S and limited["cached_prompt_tokens"] is None
    assert limited["generation_round"] == natural["generation_round"] == 0

    # And in the exports.
    exported = client.get(f"/api/conversations/{lines[0]['conversation_id']}/export", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(row["finish_reason"] for row in rows) == ["length", "stop"]
    assert {row["prompt_s"] for row in rows} == {str(PROMPT_S)}
    # A JSON export brings them back on import.
    exported_json = client.get(f"/api/conversations/{lines[0]['conversation_id']}/export", params={"format": "json"})
    imported = client.post("/api/conversations/import", json=exported_json.json())
    assert imported.status_code == 201, imported.text
    restored = answers(client, imported.json()["id"])
    assert sorted(r["finish_reason"] for r in restored.values()) == ["length", "stop"]
    assert {r["prompt_s"] for r in restored.values()} == {PROMPT_S}


def test_v3_lines_keep_their_shape_with_the_new_metrics_beside(client: httpx.Client) -> None:
    lines = stream(client, "/api/stream_chat", {"message": "Hi", "model_instances": [{"model": LLAMA, "id": "a"}]})
    final = V3MetricsLine.model_validate(lines[-1])
    assert final.metrics.first_token_time == final.metrics.ttft_s
    assert lines[-1]["metrics"]["finish_reason"] == "stop" and lines[-1]["metrics"]["prompt_s"] == PROMPT_S


def test_blind_answers_keep_their_metrics_back_until_asked_or_revealed(client: httpx.Client) -> None:
    conversation_id = create_blind(client)
    lines = stream(client, ARENA, {"conversation_id": conversation_id, "message": "Count to five."})
    for line in done_lines(lines).values():
        assert "metrics" not in line, "speed and token counts can tell models apart"
    for answer in answers(client, conversation_id).values():
        assert [answer[k] for k in ("tokens", "tokens_per_sec", "ttft_s", "prompt_tokens", "finish_reason")] == [None] * 5

    # The person chose to see speed: then it comes, still under labels only.
    asked = stream(client, f"{ARENA}&show_metrics=true", {"conversation_id": conversation_id, "message": "Again."})
    assert {line["metrics"]["tokens"] for line in done_lines(asked).values()} == {len(REPLY)}
    shown = answers(client, conversation_id, show_metrics="true")
    assert {answer["tokens"] for answer in shown.values()} == {len(REPLY)}
    assert set(shown) == {"Model A", "Model B"}

    # /api/chat's results too.
    body = {"conversation_id": conversation_id, "message": "Once more."}
    results = client.post("/api/chat?format=arena", json=body).json()["results"]
    assert set(results) == {"Model A", "Model B"} and {r["metrics"] for r in results.values()} == {None}
    results = client.post("/api/chat?format=arena&show_metrics=true", json=body).json()["results"]
    assert {r["metrics"]["tokens"] for r in results.values()} == {len(REPLY)}

    # After the reveal everything shows, asked or not.
    assert client.post(f"/api/conversations/{conversation_id}/reveal", json={}).status_code == 200
    assert {answer["tokens"] for answer in answers(client, conversation_id).values()} == {len(REPLY)}


def test_a_regenerate_has_its_own_round_and_reopens_the_pairwise_vote(client: httpx.Client, double: OllamaDouble) -> None:
    conversation_id = create_blind(client)
    lines = stream(client, ARENA, {"conversation_id": conversation_id, "message": "Count to five."})
    turn_id = lines[0]["turn_id"]
    votes = f"/api/conversations/{conversation_id}/votes"
    assert client.post(votes, json={"turn_id": turn_id, "kind": "pairwise", "value": "B"}).status_code == 201
    assert client.post(votes, json={"turn_id": turn_id, "kind": "thumb", "key": "Model A", "value": "up"}).status_code == 201

    double.reply = ["A", " different", " answer"]
    stream(client, ARENA, {"conversation_id": conversation_id, "regenerate": {"turn_id": turn_id, "key": "Model B"}})
    detail = client.get(f"/api/conversations/{conversation_id}").json()
    # "B is better" was about an answer of Model B nobody will see again: it is gone.
    assert detail["pairwise_votes"] == []
    latest = {r["key"]: r for r in detail["turns"][0]["responses"]}
    assert latest["Model B"]["text"] == "A different answer"
    assert (latest["Model A"]["generation_round"], latest["Model B"]["generation_round"]) == (0, 1)
    assert latest["Model A"]["votes"] == {"up": 1, "down": 0}, "a thumb stays on the answer it was cast on"

    # The voter can judge the pair they now see.
    assert client.post(votes, json={"turn_id": turn_id, "kind": "pairwise", "value": "A"}).status_code == 201
    assert [v["value"] for v in client.get(f"/api/conversations/{conversation_id}").json()["pairwise_votes"]] == ["A"]

    # After the reveal votes are closed: a regenerate leaves the cast ones as they were.
    assert client.post(f"/api/conversations/{conversation_id}/reveal", json={}).status_code == 200
    stream(client, ARENA, {"conversation_id": conversation_id, "regenerate": {"turn_id": turn_id, "key": "Model A"}})
    assert [v["value"] for v in client.get(f"/api/conversations/{conversation_id}").json()["pairwise_votes"]] == ["A"]


def test_an_answer_that_waited_for_a_free_slot_says_how_long(client: httpx.Client) -> None:
    """Two embedded slots, three SmolLM2 answers: the third starts only when one of the first two
    is done, so it was not generated together with them; its wait is said and stored."""
    body = {"message": "Name an animal.", "model_instances": [{"model": SMOL, "num_predict": 16, "seed": s} for s in (1, 2, 3)]}
    lines = stream(client, ARENA, body)
    done = done_lines(lines)
    waits = sorted(line["metrics"]["wait_s"] for line in done.values())
    assert waits[:2] == [0.0, 0.0] and waits[2] > 0, waits
    waited = next(line for line in done.values() if line["metrics"]["wait_s"] > 0)
    assert waited["metrics"]["ttft_s"] > waited["metrics"]["wait_s"], "the first token time includes the wait"
    for line in done.values():
        # A cold cache the engine knows of; tokens/s from the batch loop's own clock.
        assert line["metrics"]["cached_prompt_tokens"] == 0 and line["metrics"]["engine_timed"] is True
        assert line["metrics"]["engine_settings"] == {"min_p": 0.05}, "what the engine added is said"
    # The two started together evaluated their prompt's prefix once; the third joined alone.
    shared = sorted(line["metrics"]["shared_prompt_tokens"] for line in done.values())
    assert shared[0] == 0 and shared[1] == shared[2] == waited["metrics"]["prompt_tokens"] - 1, shared
    stored = answers(client, lines[0]["conversation_id"])
    assert sorted(r["wait_s"] for r in stored.values()) == waits, "kept for the crown after a reload"
    exported = client.get(f"/api/conversations/{lines[0]['conversation_id']}/export", params={"format": "json"})
    imported = client.post("/api/conversations/import", json=exported.json())
    assert imported.status_code == 201, imported.text
    assert sorted(r["wait_s"] for r in answers(client, imported.json()["id"]).values()) == waits, "and a re-import"


def test_a_model_load_and_the_engine_clock_are_reported_and_kept_back_while_blind(
    client: httpx.Client, double: OllamaDouble
) -> None:
    double.metrics = ChatMetrics(load_duration=1_200_000_000)  # a fresh Ollama loading the model
    lines = stream(client, ARENA, {"message": "Hi", "model_instances": [{"model": LLAMA}]})
    metrics = next(iter(done_lines(lines).values()))["metrics"]
    assert metrics["load_s"] == 1.2 and metrics["engine_timed"] is True  # load_duration, eval_duration
    assert metrics["wait_s"] is None, "Ollama does not say whether it queued the request"
    stored = next(iter(answers(client, lines[0]["conversation_id"]).values()))
    assert (stored["load_s"], stored["engine_timed"], stored["wait_s"]) == (1.2, True, None)

    conversation_id = create_blind(client)
    stream(client, ARENA, {"conversation_id": conversation_id, "message": "Hi"})
    for answer in answers(client, conversation_id).values():
        assert [answer[k] for k in ("load_s", "engine_timed", "wait_s")] == [None] * 3, "before the reveal: nothing"
    shown = answers(client, conversation_id, show_metrics="true")
    assert {(a["load_s"], a["engine_timed"]) for a in shown.values()} == {(1.2, True)}


def test_v3_keeps_a_masked_answers_metrics_back_too_with_every_key_there(client: httpx.Client) -> None:
    """Prompt tokens alone tell models apart (each chat template counts differently)."""
    conversation_id = create_blind(client)
    lines = stream(client, "/api/stream_chat", {"conversation_id": conversation_id, "message": "Count to five."})
    finals = [V3MetricsLine.model_validate(line) for line in lines if line.get("type") == "metrics"]
    assert len(finals) == 2
    for final in finals:
        assert set(final.metrics.model_dump().values()) == {None}, "a v3 reader still finds every key"

    body = {"conversation_id": conversation_id, "message": "Again."}
    results = client.post("/api/chat", json=body).json()["results"]
    assert [set(r["metrics"].values()) for r in results.values()] == [{None}, {None}]
    asked = client.post("/api/chat?show_metrics=true", json=body).json()["results"]
    assert {r["metrics"]["tokens"] for r in asked.values()} == {len(REPLY)}
    asked_lines = stream(client, "/api/stream_chat?show_metrics=true", body)
    assert {line["metrics"]["tokens"] for line in asked_lines if line.get("type") == "metrics"} == {len(REPLY)}


def test_chat_lists_a_masked_conversations_results_by_label_not_by_who_finished_first(
    client: httpx.Client, double: OllamaDouble
) -> None:
    double.token_delay = 0.05
    body = {"blind": True, "model_instances": [{"model": LLAMA, "num_predict": 1}, {"model": QWEN}]}
    for _ in range(20):
        conversation_id = client.post("/api/conversations", json=body).json()["id"]
        chat = client.post("/api/chat", json={"conversation_id": conversation_id, "message": "Count."}).json()
        assert list(chat["results"]) == ["Model A", "Model B"]
        mapping = client.post(f"/api/conversations/{conversation_id}/reveal").json()["mapping"]
        if mapping[1]["model"] == LLAMA:
            return  # Model B finished first (one token), and still came second
    pytest.fail("in twenty blind conversations the one-token answer was never Model B")
