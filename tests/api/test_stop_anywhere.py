"""/api/stop sent to a server process that does not run the stream stops it all the same
(through Redis): the stream's done line says stopped, the row is `stopped` with its partial
text, and the other instance finishes. The owner rule is the same as for a local stop; a stream
that runs nowhere is 404."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.support.accounts import PASSWORD
from tests.support.doubles.ollama import OllamaDouble
from tests.support.faults import ServedArena
from tests.support.server import ndjson_lines
from tests.support.shared_state import two_arenas

LLAMA_ID = "ollama_llama3.2_1b__0.7_0.9_40_1.1_-1_0"
QWEN_ID = "ollama_qwen2.5_0.5b__0.7_0.9_40_1.1_-1_0"
BOTH = {"message": "Count.", "model_instances": [{"model": "ollama:llama3.2:1b"}, {"model": "ollama:qwen2.5:0.5b"}]}
REPLY = [f" w{i}" for i in range(100)]  # 5 s: time enough to reach B while it runs
STREAM = "/api/stream_chat?format=arena"


def login(arena: ServedArena, username: str) -> httpx.Client:
    client = arena.client()
    answer = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return client


@pytest.mark.timeout(90)
def test_a_stream_started_on_a_is_stopped_through_b(tmp_path: Path, double: OllamaDouble, redis_url: str) -> None:
    double.reply, double.token_delay = list(REPLY), 0.05
    with two_arenas(tmp_path / "data", double_url=double.url, redis_url=redis_url, accounts=True) as (a, b):
        with closing(login(a, "eve")) as eve_at_a, closing(login(b, "eve")) as eve_at_b, closing(
            login(b, "rival")
        ) as rival_at_b:
            lines: list[dict] = []
            answers: dict[str, httpx.Response] = {}
            with eve_at_a.stream("POST", STREAM, json=BOTH) as response:
                assert response.status_code == 200
                for event in ndjson_lines(response):
                    lines.append(event)
                    if "stop" not in answers and event.get("instance_id") == LLAMA_ID and event.get("token"):
                        turn = lines[0]["turn_id"]
                        # Someone else may not stop it, here or there; nor may its owner answer it again meanwhile.
                        answers["rival"] = rival_at_b.post("/api/stop", json={"turn_id": turn, "key": LLAMA_ID})
                        answers["regenerate"] = eve_at_b.post(
                            STREAM, json={"regenerate": {"turn_id": turn, "key": LLAMA_ID}}
                        )
                        answers["stop"] = eve_at_b.post("/api/stop", json={"turn_id": turn, "key": LLAMA_ID})
            turn = lines[0]["turn_id"]
            after = eve_at_b.post("/api/stop", json={"turn_id": turn, "key": QWEN_ID})
            detail = eve_at_b.get(f"/api/conversations/{lines[0]['conversation_id']}").json()

    assert (answers["stop"].status_code, answers["stop"].json()) == (200, {"stopped": True})
    assert answers["rival"].status_code == 404, answers["rival"].text
    assert answers["regenerate"].status_code == 409, answers["regenerate"].text
    assert after.status_code == 404, "a stream that ended runs nowhere"
    done = {e["instance_id"]: e for e in lines[1:] if e["done"]}
    assert done[LLAMA_ID]["status"] == "stopped"
    assert "error" not in done[QWEN_ID] and done[QWEN_ID]["metrics"]["tokens"] == len(REPLY)
    stopped_text = "".join(e["token"] for e in lines[1:] if e["instance_id"] == LLAMA_ID and not e["done"])
    assert stopped_text and len(stopped_text) < len("".join(REPLY))
    stored = {r["key"]: r for r in detail["turns"][0]["responses"]}
    assert (stored[LLAMA_ID]["status"], stored[LLAMA_ID]["text"]) == ("stopped", stopped_text)
    assert (stored[QWEN_ID]["status"], stored[QWEN_ID]["text"]) == ("ok", "".join(REPLY))


@pytest.mark.timeout(60)
def test_a_stream_that_runs_nowhere_is_404_on_every_process(
    tmp_path: Path, double: OllamaDouble, redis_url: str
) -> None:
    double.reply, double.token_delay = ["Hi"], 0.0
    with two_arenas(tmp_path / "data", double_url=double.url, redis_url=redis_url) as (a, b):
        with a.client() as at_a, b.client() as at_b:
            conversation = at_a.post("/api/chat", json=BOTH).json()["conversation_id"]
            turn_id = at_b.get(f"/api/conversations/{conversation}").json()["turns"][0]["id"]
            for client in (at_a, at_b):
                refused = client.post("/api/stop", json={"turn_id": turn_id, "key": LLAMA_ID})
                assert refused.status_code == 404 and "is streaming" in refused.json()["error"]


@pytest.mark.timeout(90)
def test_a_turn_that_is_not_in_the_database_cannot_be_stopped_by_anyone_else(
    tmp_path: Path, double: OllamaDouble, redis_url: str
) -> None:
    """Eve deletes her conversation while it answers: its stream still runs (and is announced in
    Redis), but its turn is gone from the database, so no ownership can be checked: 404 for
    anyone, never a stop of someone else's stream (seen in an outside pass: 200, stopped)."""
    double.reply, double.token_delay = list(REPLY), 0.05
    with two_arenas(tmp_path / "data", double_url=double.url, redis_url=redis_url, accounts=True) as (a, b):
        with closing(login(a, "eve")) as eve_at_a, closing(login(b, "rival")) as rival_at_b:
            with eve_at_a.stream("POST", STREAM, json=BOTH) as response:
                lines = ndjson_lines(response)
                start = next(lines)
                next(lines)  # it generates
                deleted = eve_at_a.delete(f"/api/conversations/{start['conversation_id']}")
                stop = rival_at_b.post("/api/stop", json={"turn_id": start["turn_id"], "key": LLAMA_ID})
                ends = [line for line in lines if line.get("done")]
    assert deleted.status_code in (200, 204), deleted.text
    assert stop.status_code == 404, stop.text
    assert not any(line.get("status") == "stopped" for line in ends)
