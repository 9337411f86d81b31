"""An answer that ran beside another round's generation is marked `contended` (over real HTTP).

The shape of the outside re-check (/tmp/recheck/contend.py): conversation X streams a short and a
long SmolLM2 answer; once the short one is done, conversation Y streams while X's long answer
still runs. Threads are shared evenly only within a round, so Y slowed X's long answer alone:
it must say so (stream, detail, every export, a re-import) and stay out of the crown.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.doubles.ollama import ChatMetrics, OllamaDouble
from tests.support.fixtures import ArenaFactory, module_double
from tests.support.models import SMOL
from tests.support.server import RunningArena, ndjson_lines

LLAMA = "ollama:llama3.2:1b"
ARENA = "/api/stream_chat?format=arena"
CONTENDED = "other generations ran beside it — speed not compared"

double = module_double


@pytest.fixture(scope="module")
def arena(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(ollama_hosts=[double.url])


@pytest.fixture
def client(arena: RunningArena, double: OllamaDouble) -> Iterator[httpx.Client]:
    double.reply, double.metrics = ["One", " two", " three", " four", " five"], ChatMetrics()
    double.token_delay = 0.05
    with arena.client() as http:
        yield http


def create(client: httpx.Client, instances: list[dict], *, blind: bool = False) -> str:
    response = client.post("/api/conversations", json={"blind": blind, "model_instances": instances})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def stored(client: httpx.Client, conversation_id: str, **params: str) -> dict[str, dict]:
    response = client.get(f"/api/conversations/{conversation_id}", params=params)
    assert response.status_code == 200, response.text
    return {r["key"]: r for r in response.json()["turns"][-1]["responses"]}


def test_a_second_conversation_streaming_mid_round_marks_the_answers_it_overlapped(client: httpx.Client) -> None:
    x = create(client, [{"model": SMOL, "num_predict": 4, "seed": 1}, {"model": SMOL, "num_predict": 96, "seed": 2}])
    y = create(client, [{"model": LLAMA}])
    x_done: dict[str, dict] = {}
    y_lines: list[dict] = []

    def stream_y() -> None:
        with client.stream("POST", ARENA, json={"conversation_id": y, "message": "Write a poem about the sky"}) as r:
            y_lines.extend(ndjson_lines(r))

    other = threading.Thread(target=stream_y)
    with client.stream("POST", ARENA, json={"conversation_id": x, "message": "Write a poem about the sea"}) as response:
        assert response.status_code == 200
        for line in ndjson_lines(response):
            if line.get("done"):
                x_done[line["instance_id"]] = line["metrics"]
                if len(x_done) == 1:  # the short answer is done, the long one still runs: Y starts now
                    other.start()
    other.join()
    short, long = sorted(x_done.values(), key=lambda m: m["tokens"])
    assert short["tokens"] == 4 and long["tokens"] > 4
    # The short answer ended before Y began: measured alike. The long one ran beside Y, and Y beside it.
    assert short["contended"] is False
    assert long["contended"] is True
    assert [line["metrics"]["contended"] for line in y_lines if line.get("done")] == [True]

    # Stored with the answer, so the crown and the card's note survive a reload.
    answers = stored(client, x)
    assert sorted((r["tokens"], r["contended"]) for r in answers.values()) == [(4, False), (long["tokens"], True)]
    exported = client.get(f"/api/conversations/{x}/export", params={"format": "json"})
    flags = sorted(r["contended"] for t in exported.json()["turns"] for r in t["responses"])
    assert flags == [False, True]
    rows = list(csv.DictReader(io.StringIO(client.get(f"/api/conversations/{x}/export", params={"format": "csv"}).text)))
    assert sorted(row["contended"] for row in rows) == ["False", "True"]
    markdown = client.get(f"/api/conversations/{x}/export", params={"format": "markdown"}).text
    assert markdown.count(CONTENDED) == 1
    imported = client.post("/api/conversations/import", json=exported.json())
    assert imported.status_code == 201, imported.text
    assert sorted(r["contended"] for r in stored(client, imported.json()["id"]).values()) == [False, True]

    # A round with nothing else running is not marked.
    with client.stream("POST", ARENA, json={"conversation_id": y, "message": "Again"}) as response:
        alone = [line["metrics"]["contended"] for line in ndjson_lines(response) if line.get("done")]
    assert alone == [False]


def test_a_blind_answers_contention_is_kept_back_like_its_other_metrics(client: httpx.Client) -> None:
    conversation_id = create(client, [{"model": LLAMA}, {"model": LLAMA, "temperature": 0.3}], blind=True)
    with client.stream("POST", ARENA, json={"conversation_id": conversation_id, "message": "Hi"}) as response:
        done = [line for line in ndjson_lines(response) if line.get("done")]
    assert all("metrics" not in line for line in done)
    assert {r["contended"] for r in stored(client, conversation_id).values()} == {None}
    assert {r["contended"] for r in stored(client, conversation_id, show_metrics="true").values()} == {False}


def test_a_judge_generating_meanwhile_marks_the_answer_it_ran_beside(client: httpx.Client, double: OllamaDouble) -> None:
    double.first_token_delay = 1.5  # the judge's model is still answering when the turn starts
    verdict: list[int] = []
    body = {"prompt": "Capital of France?", "answers": [{"key": "a", "text": "Paris"}, {"key": "b", "text": "Lyon"}],
            "judge_model": LLAMA, "mode": "pairwise"}  # fmt: skip
    judge = threading.Thread(target=lambda: verdict.append(client.post("/api/judge", json=body).status_code))
    try:
        judge.start()
        time.sleep(0.3)  # the judge is under way (its first token comes after 1.5 s)
        with client.stream("POST", ARENA, json={"message": "Hi", "model_instances": [{"model": SMOL, "num_predict": 4}]}) as r:
            done = [line["metrics"]["contended"] for line in ndjson_lines(r) if line.get("done")]
        judge.join()
    finally:
        double.first_token_delay = 0.0
    assert verdict, "the judge ran"
    assert done == [True]
