"""Verdicts tied to the answers they judged: after a regenerate a verdict says it is about an
earlier answer (API, exports, import); the judge takes the answers the page shows; the Markdown
export carries the page's speed notes (after the reveal only); export + import keeps read_by."""

from __future__ import annotations

import json
from typing import Any

import pytest

from arena.storage import answer_metrics, repository
from arena.storage.db import Database
from tests.support.builders import SeededTurn, seed_turn
from tests.support.doubles.judging import JUDGE, JudgingOllama
from tests.support.fixtures import ArenaFactory, DoubleFactory, arena_database
from tests.support.server import RunningArena

PARIS_MODEL, BERLIN_MODEL = "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"
PARIS, BERLIN, ROME = "The capital of France is Paris.", "It is Berlin.", "Rome, surely."


def prefers_paris(prompt: str) -> str:
    first = prompt.split("[The Start of Assistant [B]'s Answer]")[0]
    return json.dumps({"explanation": "Only one names Paris.", "verdict": "A" if "Paris" in first else "B"})


@pytest.fixture
def double(double_factory: DoubleFactory) -> JudgingOllama:
    judging = double_factory(JudgingOllama())
    judging.decide = prefers_paris
    return judging


@pytest.fixture
def arena(double: JudgingOllama, arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(ollama_hosts=[double.url], embedded_enabled=False)


database = arena_database


def answer(
    database: Database, turn: SeededTurn, n: int, text: str, *, status: str = "ok", round_: int = 1, **metrics: Any
) -> int:
    """A newer answer of instance `n` (what a regenerate leaves), with optional metrics."""
    with database.session() as session:
        response = repository.start_response(
            session, turn_id=turn.turn_id, instance_id=turn.instance_ids[n], generation_round=round_
        )
        repository.finish_response(
            session, response_id=response.id, text=text, status=status, error="boom" if status == "error" else None,
            prompt_tokens=metrics.get("prompt_tokens"), completion_tokens=metrics.get("tokens"),
            tokens_per_sec=metrics.get("tokens_per_sec"),
        )  # fmt: skip
        answer_metrics.record_cache_and_finish(
            session, response_id=response.id, cached_prompt_tokens=metrics.get("cached"), prompt_s=None,
            finish_reason=metrics.get("finish_reason"),
        )  # fmt: skip
        return response.id


def judge(arena: RunningArena, turn: SeededTurn) -> Any:
    with arena.client() as client:
        return client.post(
            "/api/judge", json={"conversation_id": turn.conversation_id, "turn_id": turn.turn_id, "judge_model": JUDGE}
        )


def listed(arena: RunningArena, conversation_id: str) -> list[dict[str, Any]]:
    with arena.client() as client:
        return client.get("/api/judge", params={"conversation_id": conversation_id}).json()["judgments"]


def export(arena: RunningArena, conversation_id: str, fmt: str) -> str:
    with arena.client() as client:
        response = client.get(f"/api/conversations/{conversation_id}/export", params={"format": fmt})
    assert response.status_code == 200, response.text
    return response.text


def test_a_verdict_after_a_regenerate_is_marked_about_an_earlier_answer_everywhere_and_kept(
    arena: RunningArena, double: JudgingOllama, database: Database
) -> None:
    turn = seed_turn(database, models=[BERLIN_MODEL, PARIS_MODEL], texts=[BERLIN, PARIS])
    first = judge(arena, turn)
    assert first.status_code == 200, first.text
    assert [j["about_earlier_answer"] for j in first.json()["judgments"]] == [False]

    answer(database, turn, 0, ROME)  # Model A regenerated after the verdict

    [verdict] = listed(arena, turn.conversation_id)
    assert verdict["about_earlier_answer"] is True and verdict["winner"] == "b"  # kept as it was
    exported = json.loads(export(arena, turn.conversation_id, "json"))
    [row] = exported["turns"][0]["judgments"]
    assert (row["about_earlier_answer"], row["answer_a"], row["answer_b"]) == (True, 0, 0)
    assert "about an earlier answer: regenerated since" in export(arena, turn.conversation_id, "markdown")
    assert "about an earlier answer" in export(arena, turn.conversation_id, "csv")
    with arena.client() as client:  # the leaderboard still counts it: Paris beat Berlin's answer
        board = client.get("/api/leaderboard", params={"source": "judge", "judge_model": JUDGE, "rounds": 20}).json()
    assert [(r["model"], r["wins"]) for r in board["rows"]] == [(PARIS_MODEL, 1), (BERLIN_MODEL, 0)]

    # Judged again: the new answer is what the judge reads, and that verdict is current.
    again = judge(arena, turn)
    assert again.status_code == 200, again.text
    assert ROME in double.judge_bodies()[-1]["messages"][-1]["content"]
    assert [j["about_earlier_answer"] for j in listed(arena, turn.conversation_id)] == [True, False]

    # The export and its import keep which verdict judged an earlier answer, and how each was read.
    with arena.client() as client:
        imported = client.post(
            "/api/conversations/import", json=json.loads(export(arena, turn.conversation_id, "json"))
        )
    assert imported.status_code == 201, imported.text
    restored = listed(arena, imported.json()["id"])
    assert [j["about_earlier_answer"] for j in restored] == [True, False]
    assert [o["read_by"] for j in restored for o in j["orders"]] == ["json"] * 4


def test_the_judge_never_falls_back_to_an_older_answer_than_the_page_shows(
    arena: RunningArena, double: JudgingOllama, database: Database
) -> None:
    turn = seed_turn(database, models=[BERLIN_MODEL, PARIS_MODEL], texts=[BERLIN, PARIS])
    answer(database, turn, 1, "Par", status="stopped")  # Model B regenerated, then stopped

    response = judge(arena, turn)

    assert response.status_code == 400
    assert "a stopped or failed one is not judged (regenerate it)" in response.json()["error"]
    assert double.judge_bodies() == [] and listed(arena, turn.conversation_id) == []


def test_markdown_export_carries_the_pages_speed_notes_after_the_reveal_only(
    arena: RunningArena, database: Database
) -> None:
    turns = {
        blind: seed_turn(database, models=[BERLIN_MODEL, PARIS_MODEL], texts=[BERLIN, PARIS], blind=blind)
        for blind in (False, True)
    }
    for turn in turns.values():
        answer(
            database, turn, 0, ROME, tokens=8, tokens_per_sec=20.0, finish_reason="length", cached=3, prompt_tokens=30
        )

    opened = export(arena, turns[False].conversation_id, "markdown")
    regenerated, untouched = opened.split("### Model B")
    assert "stopped at the token limit · 3 of 30 prompt tokens cached — not in the crown · " in regenerated
    assert "regenerated alone — speed not compared" in regenerated
    assert "prompt cache not reported by the engine" in untouched and "regenerated alone" not in untouched

    masked = export(arena, turns[True].conversation_id, "markdown")
    for note in ("token limit", "prompt cache", "cached", "regenerated alone"):
        assert note not in masked
    with arena.client() as client:
        assert client.post(f"/api/conversations/{turns[True].conversation_id}/reveal").status_code == 200
    assert "regenerated alone — speed not compared" in export(arena, turns[True].conversation_id, "markdown")


@pytest.mark.parametrize("streamed", [False, True], ids=["post", "stream"])
def test_a_regenerate_that_finishes_while_the_judge_runs_makes_the_reply_about_an_earlier_answer(
    arena: RunningArena, double: JudgingOllama, database: Database, streamed: bool
) -> None:
    turn = seed_turn(database, models=[BERLIN_MODEL, PARIS_MODEL], texts=[BERLIN, PARIS])
    regenerated: list[int] = []

    def regenerate_meanwhile(prompt: str) -> str:
        if not regenerated:  # Model A's regenerate lands between the judge's start and its reply
            regenerated.append(answer(database, turn, 0, ROME))
        return prefers_paris(prompt)

    double.decide = regenerate_meanwhile
    body = {"conversation_id": turn.conversation_id, "turn_id": turn.turn_id, "judge_model": JUDGE}
    with arena.client() as client:
        if streamed:
            response = client.post("/api/judge/stream", json=body)
            assert response.status_code == 200, response.text
            done = json.loads(response.text.strip().splitlines()[-1])
            assert done["type"] == "done", done
            judgments = done["run"]["judgments"]
        else:
            response = client.post("/api/judge", json=body)
            assert response.status_code == 200, response.text
            judgments = response.json()["judgments"]

    assert regenerated and BERLIN in double.judge_bodies()[0]["messages"][-1]["content"]  # judged the old one
    assert [j["about_earlier_answer"] for j in judgments] == [True]
    assert [j["about_earlier_answer"] for j in listed(arena, turn.conversation_id)] == [True]  # as GET says
