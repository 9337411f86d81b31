"""Real generations from SmolLM2 through /api/stream_chat and /api/chat."""

from __future__ import annotations

import time

from tests.support.models import SMOL
from tests.support.server import RunningArena, ndjson_lines


def two_instances(num_predict: int = 24) -> list[dict]:
    return [
        {"model": SMOL, "temperature": 0.2, "num_predict": num_predict, "seed": 11},
        {"model": SMOL, "temperature": 1.3, "num_predict": num_predict, "seed": 11},
    ]


def test_two_instances_stream_interleaved_with_metrics_and_are_stored(arena: RunningArena) -> None:
    with arena.client() as client:  # load both Llama objects first, so neither stream waits for a load
        client.post("/api/chat", json={"message": "Hi", "model_instances": two_instances(num_predict=2)})
    body = {"message": "Name three colours of the sea.", "model_instances": two_instances()}
    with arena.client() as client, client.stream("POST", "/api/stream_chat", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = list(ndjson_lines(response))

    first, events = lines[0], lines[1:]
    conversation_id = first["conversation_id"]
    ids = [i["instance_id"] for i in first["instances"]]
    assert ids == [
        "local_smollm2-135m-instruct__0.2_0.9_40_1.1_24_11",
        "local_smollm2-135m-instruct__1.3_0.9_40_1.1_24_11",
    ]
    # Interleaved, not one after the other: each instance sends tokens before either finishes.
    first_done = next(i for i, e in enumerate(events) if e["done"])
    assert {e["instance_id"] for e in events[:first_done] if not e["done"]} == set(ids)

    texts = {iid: "".join(e["token"] for e in events if e["instance_id"] == iid and not e["done"]) for iid in ids}
    finals = {e["instance_id"]: e for e in events if e["done"]}
    assert set(finals) == set(ids)
    for iid in ids:
        assert texts[iid].strip(), "every instance produced text"
        metrics = finals[iid]["metrics"]
        assert "error" not in finals[iid]
        assert 0 < metrics["tokens"] <= 24
        assert metrics["prompt_tokens"] > 5
        assert 0 < metrics["ttft_s"] <= metrics["duration_s"] < 120
        assert metrics["tokens_per_sec"] > 0

    with arena.client() as client:
        stored = client.get(f"/api/conversations/{conversation_id}").json()
    assert stored["title"] == "Name three colours of the sea."
    [turn] = stored["turns"]
    assert turn["user_text"] == "Name three colours of the sea."
    by_instance = {r["instance_id"]: r for r in turn["responses"]}
    for iid in ids:
        assert by_instance[iid]["status"] == "ok"
        assert by_instance[iid]["text"] == texts[iid]
        assert by_instance[iid]["tokens"] == finals[iid]["metrics"]["tokens"]


def test_non_streaming_single_instance(arena: RunningArena) -> None:
    body = {"history": [{"role": "user", "content": "Say hello."}], "models": [SMOL]}
    with arena.client() as client:
        response = client.post("/api/chat", json=body)
    assert response.status_code == 200
    data = response.json()
    assert data["model"] == SMOL
    # A legacy `models` entry is named by its model, as v3 did; ?format=arena gives the stored id.
    assert data["instance_id"] == SMOL
    assert data["response"].strip() and data["assistant"] == data["response"]
    assert data["metrics"]["tokens"] > 0
    assert len(data["conversation_id"]) == 32


def test_one_failing_instance_never_stops_the_others(arena: RunningArena) -> None:
    body = {
        "message": "Count to three.",
        "model_instances": [{"model": SMOL, "num_predict": 12}, {"model": "local:no-such-model", "num_predict": 12}],
    }
    with arena.client() as client:
        data = client.post("/api/chat", json=body).json()
    good = "local_smollm2-135m-instruct__0.7_0.9_40_1.1_12_0"
    bad = "local_no-such-model__0.7_0.9_40_1.1_12_0"
    # Every instance has a result, as v3's server gave: the failed one with its error.
    assert set(data["results"]) == {good, bad}
    assert data["results"][good]["response"].strip() and data["results"][good]["error"] is None
    assert data["results"][bad]["status"] == "error" and "no-such-model" in data["results"][bad]["error"]
    assert set(data["errors"]) == {bad} and "no-such-model" in data["errors"][bad]


def test_second_turn_continues_each_instance_from_its_own_answers(arena: RunningArena) -> None:
    instances = two_instances(num_predict=8)
    with arena.client() as client:
        first = client.post("/api/chat", json={"message": "Pick a fruit.", "model_instances": instances}).json()
        conversation_id = first["conversation_id"]
        second = client.post(
            "/api/chat",
            json={"message": "Why that one?", "model_instances": instances, "conversation_id": conversation_id},
        ).json()
        assert second["conversation_id"] == conversation_id
        stored = client.get(f"/api/conversations/{conversation_id}").json()
    assert [t["user_text"] for t in stored["turns"]] == ["Pick a fruit.", "Why that one?"]
    # The second prompt holds the instance's own first answer, so it is longer than the first.
    for iid in first["results"]:
        assert second["results"][iid]["metrics"]["prompt_tokens"] > first["results"][iid]["metrics"]["prompt_tokens"]


def test_client_disconnect_stops_generation_and_keeps_partial_text(arena: RunningArena) -> None:
    body = {"message": "Write a very long story about a lighthouse.", "model_instances": [{"model": SMOL, "num_predict": 2000, "temperature": 1.0}]}
    received = ""
    with arena.client() as client:
        with client.stream("POST", "/api/stream_chat", json=body) as response:
            lines = ndjson_lines(response)
            conversation_id = next(lines)["conversation_id"]
            for event in lines:
                received += event.get("token", "")
                if len(received) > 40:
                    break
        # Leaving the block closed the connection mid-stream.
        deadline = time.monotonic() + 20
        while True:
            stored = client.get(f"/api/conversations/{conversation_id}").json()
            [response_row] = stored["turns"][0]["responses"]
            if response_row["status"] != "streaming" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert response_row["status"] == "stopped"
    assert response_row["text"].startswith(received)
    assert response_row["tokens"] < 2000, "generation ended long before its token limit"
    # The Llama object went back to the pool usable: the next request is answered.
    with arena.client() as client:
        again = client.post("/api/chat", json={"message": "Hi", "model_instances": [{"model": SMOL, "num_predict": 4}]})
    assert again.status_code == 200 and again.json()["metrics"]["tokens"] > 0
