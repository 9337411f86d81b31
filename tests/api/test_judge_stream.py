"""POST /api/judge/stream: the judge's progress as NDJSON lines (which comparison, which order,
tokens so far), the stored run on the last line, an error line when the judge fails, and a
client that hangs up stops the judge's generation and leaves no verdict behind."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from pydantic import TypeAdapter

from arena.storage import audit
from arena.storage import judgments as judgment_store
from arena.storage.db import Database
from arena.web.schemas.judge_stream import JudgeStreamLine
from tests.api.test_judge_api import BERLIN, BERLIN_MODEL, PARIS, PARIS_MODEL, prefers_paris
from tests.support.builders import SeededTurn, seed_turn
from tests.support.doubles.judging import JUDGE, JudgingOllama
from tests.support.fixtures import ArenaFactory, DoubleFactory, arena_database
from tests.support.server import RunningArena, ndjson_lines

LINES = TypeAdapter(JudgeStreamLine)


@pytest.fixture
def double(double_factory: DoubleFactory) -> JudgingOllama:
    return double_factory(JudgingOllama())


@pytest.fixture
def arena(double: JudgingOllama, arena_factory: ArenaFactory) -> RunningArena:
    # One generation at a time per caller: a unit the judge kept would refuse the next request.
    return arena_factory(ollama_hosts=[double.url], embedded_enabled=False, max_streams_per_user=1)


database = arena_database  # the running arena's own


@pytest.fixture
def turn(database: Database) -> SeededTurn:
    return seed_turn(database, models=[BERLIN_MODEL, PARIS_MODEL], texts=[BERLIN, PARIS])


def stored(database: Database) -> list[Any]:
    with database.session() as session:
        return judgment_store.list_judgments(session)


def stream(arena: RunningArena, body: dict[str, Any]) -> list[dict[str, Any]]:
    with arena.client() as client, client.stream("POST", "/api/judge/stream", json=body) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = list(ndjson_lines(response))
    for line in lines:
        LINES.validate_python(line)  # every line is one the OpenAPI document describes
    return lines


def test_progress_names_each_order_and_counts_tokens_then_the_stored_run_arrives(
    arena: RunningArena, double: JudgingOllama, database: Database, turn: SeededTurn
) -> None:
    double.decide = prefers_paris
    body = {"conversation_id": turn.conversation_id, "turn_id": turn.turn_id, "judge_model": JUDGE}

    lines = stream(arena, body)

    start, *progress, done = lines
    assert start == {
        "type": "start", "judge_model": JUDGE, "cloud": False, "sent_to": None, "mode": "pairwise",
        "calls": 2, "comparisons": 1,
    }  # fmt: skip
    berlin_id, paris_id = turn.instance_ids
    assert {p["type"] for p in progress} == {"progress"}
    steps = [(p["call"], p["order"], p["shown_as_a"], p["shown_as_b"]) for p in progress]
    assert steps[0] == (1, "ab", berlin_id, paris_id) and steps[-1] == (2, "ba", paris_id, berlin_id)
    assert [p["tokens"] for p in progress if p["call"] == 1][0] == 0, "a call is announced before its tokens"
    for call in (1, 2):
        counts = [p["tokens"] for p in progress if p["call"] == call]
        assert counts == sorted(counts) and counts[-1] > 1, (call, counts)
    assert done["type"] == "done"
    run = done["run"]
    [verdict] = run["judgments"]
    assert (verdict["winner_key"], verdict["consistent"]) == (paris_id, True)
    assert [row.run_id for row in stored(database)] == [run["run_id"]]
    with arena.client() as client:
        assert client.get("/api/judge", params={"run_id": run["run_id"]}).json()["judgments"] == run["judgments"]
        # The judge's unit came back: the one generation this caller may run is free again.
        assert client.post("/api/judge", json=body).status_code == 200


def test_a_blind_conversation_stays_blind_in_the_progress_lines(
    arena: RunningArena, double: JudgingOllama, database: Database
) -> None:
    turn = seed_turn(database, models=[BERLIN_MODEL, PARIS_MODEL], texts=[BERLIN, PARIS], blind=True)
    double.decide = prefers_paris

    lines = stream(arena, {"conversation_id": turn.conversation_id, "turn_id": turn.turn_id, "judge_model": JUDGE})

    shown = {(p["shown_as_a"], p["shown_as_b"]) for p in lines if p["type"] == "progress"}
    assert shown == {("Model A", "Model B"), ("Model B", "Model A")}
    assert lines[-1]["run"]["judgments"][0]["winner_key"] == "Model B"
    text = repr(lines)
    assert not any(secret in text for secret in (*turn.instance_ids, "llama3.2", "qwen2.5"))


def test_grading_reports_one_call_per_answer(arena: RunningArena, double: JudgingOllama) -> None:
    double.decide = lambda prompt: '{"explanation": "Fine.", "score": 7}'
    answers = [{"key": "mine", "text": PARIS}, {"key": "theirs", "text": BERLIN}]
    body = {"prompt": "Capital of France?", "answers": answers, "judge_model": JUDGE, "mode": "single"}

    lines = stream(arena, body)

    assert (lines[0]["calls"], lines[0]["comparisons"]) == (2, 2)
    calls = {(p["call"], p["comparison"], p["shown_as_a"], p["shown_as_b"], p["order"]) for p in lines[1:-1]}
    assert calls == {(1, 1, "mine", None, None), (2, 2, "theirs", None, None)}
    assert [j["score"] for j in lines[-1]["run"]["judgments"]] == [7.0, 7.0]


def test_a_judge_without_a_verdict_ends_in_an_error_line_and_stores_nothing(
    arena: RunningArena, double: JudgingOllama, database: Database, turn: SeededTurn
) -> None:
    double.decide = lambda prompt: "Both answers have their merits."

    lines = stream(arena, {"conversation_id": turn.conversation_id, "turn_id": turn.turn_id, "judge_model": JUDGE})

    last = lines[-1]
    assert (last["type"], last["status"]) == ("error", 502)
    assert "use a stronger judge model" in last["error"]
    assert stored(database) == []


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"judge_model": JUDGE}, 400, "either a stored turn"),
        ({"prompt": "q", "answers": [{"key": "a", "text": "x"}], "judge_model": JUDGE}, 400, "at least two answers"),
        ({"prompt": "q", "answers": [{"key": "a", "text": "x"}], "judge_model": JUDGE, "mode": "vibes"}, 422, "mode"),
        (
            {"prompt": "q", "answers": [{"key": "a", "text": "x"}, {"key": "b", "text": "y"}], "judge_model": "ollama:no"},
            404,
            "not available",
        ),
    ],
)
def test_bad_requests_are_refused_before_any_line(
    arena: RunningArena, double: JudgingOllama, body: dict, status: int, message: str
) -> None:
    with arena.client() as client:
        response = client.post("/api/judge/stream", json=body)

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert message in response.json()["error"]
    assert double.judge_bodies() == []


def test_closing_the_stream_stops_the_judge_and_stores_nothing(
    arena: RunningArena, double: JudgingOllama, database: Database, turn: SeededTurn
) -> None:
    double.decide = prefers_paris
    double.token_delay = 0.05  # the double streams its verdict four characters a token: ~1.5 s
    body = {"conversation_id": turn.conversation_id, "turn_id": turn.turn_id, "judge_model": JUDGE}

    with arena.client() as client:
        with client.stream("POST", "/api/judge/stream", json=body) as response:
            lines = ndjson_lines(response)
            assert next(lines)["type"] == "start"
            while next(lines)["tokens"] < 2:  # the judge is writing
                pass
            assert double.streaming == 1
        # The client hung up mid-verdict: the arena closes its request to the judge.
        assert asyncio.run(double.wait_for_disconnect(timeout=10)), "the judge's generation went on"
        deadline = time.monotonic() + 10
        while double.streaming and time.monotonic() < deadline:
            time.sleep(0.05)
        assert double.streaming == 0
        assert len(double.judge_bodies()) == 1, "the second order was never asked"
        time.sleep(0.5)  # were anything still to be written, it would be by now
        assert stored(database) == []
        # The cancelled run gave its unit back: this caller's one generation is free again.
        double.token_delay = 0.0
        assert client.post("/api/judge", json=body).status_code == 200
    assert len(stored(database)) == 1
    # The question had reached the judge: the cancelled run is in the audit log, as a failure.
    with database.session() as session:
        entries = audit.list_entries(session, action="judge").entries
    assert [(e.action, e.detail.get("error")) for e in reversed(entries)] == [
        (audit.JUDGE_FAILURE, "Cancelled"),
        (audit.JUDGE, None),
    ]


def test_the_stream_lines_are_documented_in_openapi(arena: RunningArena) -> None:
    with arena.client() as client:
        spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/judge/stream"]["post"]
    ok = operation["responses"]["200"]["content"]
    assert list(ok) == ["application/x-ndjson"]
    schema = repr(ok["application/x-ndjson"]["schema"])
    for line in ("JudgeStartLine", "JudgeProgressLine", "JudgeDoneLine", "JudgeErrorLine"):
        assert line in schema
    assert "application/json" in operation["responses"]["400"]["content"]


def test_the_stream_shares_the_judges_rate_limit(double: JudgingOllama, arena_factory: ArenaFactory) -> None:
    limited = arena_factory(ollama_hosts=[double.url], embedded_enabled=False, rate_limit_judge="1/minute")
    with limited.client() as client:
        assert client.post("/api/judge", json={"judge_model": JUDGE}).status_code == 400  # counted all the same
        refused = client.post("/api/judge/stream", json={"judge_model": JUDGE})
    assert refused.status_code == 429 and "Too many judge requests" in refused.json()["error"]


def test_a_caller_at_their_generation_cap_is_refused_before_any_line(
    arena: RunningArena, double: JudgingOllama, turn: SeededTurn
) -> None:
    double.reply, double.token_delay = [f" w{i}" for i in range(200)], 0.05
    chat = {"message": "hi", "model_instances": [{"model": BERLIN_MODEL}]}
    body = {"conversation_id": turn.conversation_id, "turn_id": turn.turn_id, "judge_model": JUDGE}
    with arena.client() as client:
        with client.stream("POST", "/api/stream_chat", json=chat) as running:
            lines = ndjson_lines(running)
            next(lines), next(lines)  # generating: the caller's one unit is taken
            refused = client.post("/api/judge/stream", json=body)
            del lines
    assert refused.status_code == 429, refused.text
    assert "ARENA_MAX_STREAMS_PER_USER" in refused.json()["error"]
    assert double.judge_bodies() == []


def test_a_conversation_deleted_while_it_is_judged_ends_in_an_error_line(
    arena: RunningArena, double: JudgingOllama, database: Database, turn: SeededTurn
) -> None:
    double.decide = prefers_paris
    double.token_delay = 0.02
    body = {"conversation_id": turn.conversation_id, "turn_id": turn.turn_id, "judge_model": JUDGE}
    with arena.client() as client, client.stream("POST", "/api/judge/stream", json=body) as response:
        lines = ndjson_lines(response)
        next(lines), next(lines)  # start, then the first call
        assert client.delete(f"/api/conversations/{turn.conversation_id}").status_code == 204
        last = list(lines)[-1]
    assert (last["type"], last["status"]) == ("error", 404), last
    assert stored(database) == []
