"""POST /api/judge and GET /api/judge: exact verdicts from the Ollama protocol double, real
(possibly poor) verdicts from the embedded SmolLM2, and the 502 when no verdict comes back."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import select

from arena.evaluation.judge.parse import read_verdict
from arena.storage import accounts as account_store
from arena.storage import judgments as judgment_store
from arena.storage import repository
from arena.storage.auth_models import User
from arena.storage.db import Database
from tests.support.accounts import api_token
from tests.support.builders import SeededTurn, seed_turn
from tests.support.doubles.judging import JUDGE, JudgingOllama
from tests.support.fixtures import ArenaFactory, DoubleFactory, arena_database
from tests.support.models import SMOL
from tests.support.server import RunningArena

PARIS_MODEL, BERLIN_MODEL = "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"
PARIS, BERLIN = "The capital of France is Paris.", "It is Berlin."


def shown(prompt: str, label: str) -> str:
    return re.search(rf"\[The Start of Assistant \[{label}\]'s Answer\]\n(.*?)\n\[The End", prompt, re.S).group(1)


def prefers_paris(prompt: str) -> str:
    label = "A" if "Paris" in shown(prompt, "A") else "B"
    return json.dumps({"explanation": "Only one names Paris.", "verdict": label})


@pytest.fixture
def double(double_factory: DoubleFactory) -> JudgingOllama:
    return double_factory(JudgingOllama())


@pytest.fixture
def arena(double: JudgingOllama, arena_factory: ArenaFactory) -> RunningArena:
    # Anthropic's public API as the one cloud judge (off by default), for the allow_cloud check.
    return arena_factory(ollama_hosts=[double.url], embedded_enabled=False, cloud_judges="anthropic")


# Here `database` is the running arena's own, not the shared SQLite+PostgreSQL one.
database = arena_database


@pytest.fixture
def turn(database: Database) -> SeededTurn:
    return seed_turn(database, models=[BERLIN_MODEL, PARIS_MODEL], texts=[BERLIN, PARIS])


def judge(arena: RunningArena, **body: Any) -> Any:
    with arena.client() as client:
        return client.post("/api/judge", json=body)


def stored(database: Database) -> list[Any]:
    with database.session() as session:
        return judgment_store.list_judgments(session)


def test_a_judge_that_reads_the_answers_gives_a_consistent_winner_and_it_is_stored(
    arena: RunningArena, double: JudgingOllama, database: Database, turn: SeededTurn
) -> None:
    double.decide = prefers_paris
    response = judge(
        arena,
        conversation_id=turn.conversation_id,
        turn_id=turn.turn_id,
        judge_model=JUDGE,
        options={"num_predict": 64},
    )

    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["judge_model"], data["cloud"], data["sent_to"], data["mode"]) == (JUDGE, False, None, "pairwise")
    [verdict] = data["judgments"]
    berlin_id, paris_id = turn.instance_ids
    assert (verdict["key_a"], verdict["key_b"]) == (berlin_id, paris_id)
    assert (verdict["model_a"], verdict["model_b"]) == (BERLIN_MODEL, PARIS_MODEL)
    assert (verdict["winner"], verdict["winner_key"], verdict["consistent"]) == ("b", paris_id, True)
    assert [(o["shown_as_a"], o["verdict"], o["read_by"]) for o in verdict["orders"]] == [
        (berlin_id, "B", "json"),
        (paris_id, "A", "json"),
    ]

    # Both orders went to the judge, with the schema, the judge's sampling, and no model names.
    sent = double.judge_bodies()
    assert [shown(b["messages"][-1]["content"], "A") for b in sent] == [BERLIN, PARIS]
    assert sent[0]["format"]["properties"]["verdict"]["enum"] == ["A", "B", "tie"]
    assert sent[0]["options"]["num_predict"] == 64 and sent[0]["options"]["top_k"] == 1
    assert not any(name in json.dumps(sent) for name in ("llama3.2", "qwen2.5"))

    [row] = stored(database)
    assert (row.turn_id, row.judge_model, row.winner, row.consistent) == (turn.turn_id, JUDGE, "b", True)
    assert (row.verdict_ab, row.verdict_ba) == ("B", "A")
    assert json.loads(row.raw_ab)["verdict"] == "B" and json.loads(row.raw_ba)["verdict"] == "A"
    with arena.client() as client:
        listed = client.get("/api/judge", params={"turn_id": turn.turn_id}).json()["judgments"]
        board = client.get("/api/leaderboard", params={"source": "judge", "judge_model": JUDGE, "rounds": 20}).json()
    assert listed == data["judgments"]
    assert [(row["model"], row["wins"], row["losses"]) for row in board["rows"]] == [
        (PARIS_MODEL, 1, 0),
        (BERLIN_MODEL, 0, 1),
    ]


def test_a_verdict_that_flips_with_the_order_is_recorded_as_an_inconsistent_tie(
    arena: RunningArena, double: JudgingOllama, database: Database, turn: SeededTurn
) -> None:
    double.decide = lambda prompt: '{"explanation": "The first answer is better.", "verdict": "A"}'

    response = judge(arena, conversation_id=turn.conversation_id, turn_id=turn.turn_id, judge_model=JUDGE)

    assert response.status_code == 200, response.text
    [verdict] = response.json()["judgments"]
    assert (verdict["winner"], verdict["winner_key"], verdict["consistent"]) == ("tie", None, False)
    [row] = stored(database)
    assert (row.verdict_ab, row.verdict_ba, row.winner, row.consistent) == ("A", "A", "tie", False)


def test_garbage_from_the_judge_is_a_502_that_records_nothing(
    arena: RunningArena, double: JudgingOllama, database: Database, turn: SeededTurn
) -> None:
    double.decide = lambda prompt: "Both answers have their merits; it depends on what you value."

    response = judge(arena, conversation_id=turn.conversation_id, turn_id=turn.turn_id, judge_model=JUDGE)

    assert response.status_code == 502
    error = response.json()["error"]
    assert "use a stronger judge model" in error and "Both answers have their merits" in error
    assert stored(database) == []


# Deep within the judge's token limit (the double streams 4 characters a token): past Python's recursion limit.
@pytest.mark.parametrize("garbage", ['{"a": ' + "[" * 5000, '{"verdict": ' + "[" * 5000, "[" * 5000])
def test_json_too_deep_or_too_long_from_the_judge_is_a_502_not_a_crash(
    arena: RunningArena, double: JudgingOllama, database: Database, turn: SeededTurn, garbage: str
) -> None:
    # json.loads raised RecursionError here, which parse.py did not catch: a 500 with a traceback.
    double.decide = lambda prompt: garbage

    response = judge(arena, conversation_id=turn.conversation_id, turn_id=turn.turn_id, judge_model=JUDGE)

    assert response.status_code == 502, response.text
    assert "use a stronger judge model" in response.json()["error"]
    assert stored(database) == []


def test_a_blind_conversation_stays_blind_to_whoever_asks_the_judge(
    arena: RunningArena, double: JudgingOllama, database: Database
) -> None:
    turn = seed_turn(database, models=[BERLIN_MODEL, PARIS_MODEL], texts=[BERLIN, PARIS], blind=True)
    double.decide = prefers_paris

    response = judge(
        arena, conversation_id=turn.conversation_id, turn_id=turn.turn_id, judge_model=JUDGE, baseline="Model B"
    )

    assert response.status_code == 200, response.text
    [verdict] = response.json()["judgments"]
    assert (verdict["key_a"], verdict["key_b"], verdict["winner_key"]) == ("Model B", "Model A", "Model B")
    assert verdict["model_a"] is None and verdict["model_b"] is None
    assert "llama3.2" not in response.text and "qwen2.5" not in response.text

    with database.session() as session:
        repository.mark_revealed(session, conversation_id=turn.conversation_id)
    with arena.client() as client:
        [revealed] = client.get("/api/judge", params={"conversation_id": turn.conversation_id}).json()["judgments"]
    assert (revealed["model_a"], revealed["winner_key"]) == (PARIS_MODEL, turn.instance_ids[1])


def test_raw_answers_are_graded_one_to_ten_and_stored_without_a_turn(
    arena: RunningArena, double: JudgingOllama, database: Database
) -> None:
    double.decide = lambda prompt: (
        '{"explanation": "Correct.", "score": 9}'
        if "Paris" in prompt.split("[The Start of Assistant's Answer]")[1]
        else "Wrong city. Rating: [[2]]"
    )

    response = judge(
        arena,
        prompt="What is the capital of France?",
        answers=[{"key": "mine", "text": PARIS}, {"key": "theirs", "text": BERLIN}],
        judge_model=JUDGE,
        mode="reference",
        reference="Paris.",
        category="geography",
    )

    assert response.status_code == 200, response.text
    grades = [(j["key_a"], j["score"], j["orders"][0]["read_by"]) for j in response.json()["judgments"]]
    assert grades == [("mine", 9.0, "json"), ("theirs", 2.0, "mt_bench")]
    assert "[The Start of Reference Answer]\nParis." in double.judge_bodies()[0]["messages"][-1]["content"]
    rows = stored(database)
    assert [(r.turn_id, r.mode, r.score, r.category) for r in rows] == [
        (None, "reference", 9.0, "geography"),
        (None, "reference", 2.0, "geography"),
    ]


def test_listing_shows_verdicts_recorded_by_other_writers_too(arena: RunningArena, database: Database) -> None:
    # Batch benchmarks write their verdicts to the same table, with bare explanations in `parsed`.
    with database.session() as session:
        judgment_store.add_judgment(
            session,
            run_id="b" * 32,
            judge_model=JUDGE,
            mode="pairwise",
            key_a="x",
            key_b="y",
            raw_ab='{"verdict": "A"}',
            raw_ba='{"verdict": "B"}',
            verdict_ab="A",
            verdict_ba="B",
            parsed={"ab": "x is right", "ba": "x again", "read_by": ["json", "json"]},
            winner="a",
            consistent=True,
        )
    with arena.client() as client:
        response = client.get("/api/judge", params={"run_id": "b" * 32})

    assert response.status_code == 200, response.text
    [listed] = response.json()["judgments"]
    assert [o["explanation"] for o in listed["orders"]] == ["x is right", "x again"]
    assert listed["winner_key"] == "x"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"judge_model": JUDGE}, 400, "either a stored turn"),
        ({"prompt": "q", "answers": [{"key": "a", "text": "x"}, {"key": "b", "text": "y"}]}, 400, "exactly one judge"),
        ({"prompt": "q", "judge_model": JUDGE}, 400, "both prompt and answers"),
        (
            {"prompt": "q", "answers": [{"key": "a", "text": "x"}], "judge_model": JUDGE},
            400,
            "at least two answers",
        ),
        (
            {
                "prompt": "q",
                "answers": [{"key": "a", "text": "x"}, {"key": "b", "text": "y"}],
                "cloud": {"provider": "anthropic", "model": "claude-x"},
            },
            400,
            "api.anthropic.com: set allow_cloud",
        ),
        (
            {
                "prompt": "q",
                "answers": [{"key": "a", "text": "x"}, {"key": "b", "text": "y"}],
                "judge_model": JUDGE,
                "options": {"temperature": 9},
            },
            422,
            "temperature",
        ),
        ({"prompt": "q", "answers": [], "judge_model": JUDGE}, 422, "answers"),
        ({"prompt": "q", "answers": [{"key": "a", "text": "x"}], "judge_model": JUDGE, "mode": "vibes"}, 422, "mode"),
        ({"prompt": "q", "answers": [{"key": "a", "text": "x"}], "judge_model": JUDGE, "alow_cloud": True}, 422, ""),
        (
            {
                "prompt": "q",
                "answers": [{"key": "a", "text": "x"}, {"key": "b", "text": "y"}],
                "judge_model": "ollama:not-pulled",
            },
            404,
            "not available",
        ),
        ({"conversation_id": "0" * 32, "turn_id": 1, "judge_model": JUDGE}, 404, "does not exist"),
    ],
)
def test_bad_requests_get_a_clear_4xx_and_ask_no_judge(
    arena: RunningArena, double: JudgingOllama, database: Database, body: dict, status: int, message: str
) -> None:
    response = judge(arena, **body)

    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert double.judge_bodies() == [] and stored(database) == []


def test_a_turn_needs_two_finished_answers_for_pairwise_judging(
    arena: RunningArena, double: JudgingOllama, database: Database
) -> None:
    turn = seed_turn(database, models=[PARIS_MODEL, BERLIN_MODEL])
    with database.session() as session:  # one answer failed
        failed = repository.start_response(session, turn_id=turn.turn_id, instance_id=turn.instance_ids[1])
        repository.finish_response(session, response_id=failed.id, text="", status="error", error="boom")

    response = judge(arena, conversation_id=turn.conversation_id, turn_id=turn.turn_id, judge_model=JUDGE)

    assert response.status_code == 400
    assert "pairwise judging needs two" in response.json()["error"]


# --- the real embedded model -------------------------------------------------------------


@pytest.fixture(scope="module")
def smol_arena(module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory()


@pytest.mark.slow
def test_smollm2_judges_a_real_turn_in_both_orders_and_what_it_said_is_what_is_recorded(
    smol_arena: RunningArena,
) -> None:
    with smol_arena.client() as client:
        chat = client.post(
            "/api/chat",
            json={
                "message": "Name one primary colour.",
                "model_instances": [
                    {"model": SMOL, "num_predict": 12, "seed": 1},
                    {"model": SMOL, "num_predict": 12, "seed": 2},
                ],
            },
        )
        assert chat.status_code == 200, chat.text
        conversation_id = chat.json()["conversation_id"]
        turn_id = client.get(f"/api/conversations/{conversation_id}").json()["turns"][0]["id"]
        response = client.post(
            "/api/judge",
            json={
                "conversation_id": conversation_id,
                "turn_id": turn_id,
                "judge_model": SMOL,
                "options": {"num_predict": 64},
            },
        )

    assert response.status_code == 200, response.text  # the grammar keeps even a 135M model to the schema
    [verdict] = response.json()["judgments"]
    first, second = verdict["orders"]
    assert (first["shown_as_a"], second["shown_as_a"]) == (verdict["key_a"], verdict["key_b"])
    for order in (first, second):
        reading = read_verdict(order["raw"])
        assert reading is not None and reading.verdict == order["verdict"]
    to_winner = {("A", "B"): "a", ("B", "A"): "b", ("tie", "tie"): "tie"}
    expected = to_winner.get((first["verdict"], second["verdict"]), "tie")
    assert verdict["winner"] == expected
    assert verdict["consistent"] == ((first["verdict"], second["verdict"]) in to_winner)


@pytest.mark.slow
def test_smollm2_cut_off_before_its_verdict_is_a_502_not_a_guess(smol_arena: RunningArena) -> None:
    body = {
        "prompt": "Which is larger, 3 or 5?",
        "answers": [{"key": "first", "text": "5 is larger."}, {"key": "second", "text": "3 is larger."}],
        "judge_model": SMOL,
        "options": {"num_predict": 2},  # cut off inside {"verdict"
    }
    with smol_arena.client() as client:
        response = client.post("/api/judge", json=body)
        listed = client.get("/api/judge").json()["judgments"]

    assert response.status_code == 502, response.text
    assert "use a stronger judge model" in response.json()["error"]
    assert all(j["key_a"] != "first" for j in listed)


def test_a_raw_judge_run_is_seen_only_by_whoever_ran_it_and_the_admins(
    double: JudgingOllama, arena_factory: ArenaFactory
) -> None:
    """A raw prompt, its answers, the answer key and the judge's output are the caller's: another
    evaluator and a viewer never see them in GET /api/judge, an admin does."""
    double.decide = lambda prompt: '{"explanation": "Fine.", "score": 8}'
    arena = arena_factory(accounts=True, ollama_hosts=[double.url], embedded_enabled=False)
    bearer = {name: {"Authorization": f"Bearer {api_token(arena, name)}"} for name in ("eve", "rival", "vic", "ada")}
    body = {
        "prompt": "My private question: what is the capital of France?",
        "answers": [{"key": "mine", "text": PARIS}, {"key": "theirs", "text": BERLIN}],
        "judge_model": JUDGE,
        "mode": "reference",
        "reference": "Paris (the answer key)",
    }
    with arena.client() as client:
        ran = client.post("/api/judge", json=body, headers=bearer["eve"])
        assert ran.status_code == 200, ran.text
        run_id = ran.json()["run_id"]
        seen = {
            name: client.get("/api/judge", params={"run_id": run_id}, headers=headers).json()["judgments"]
            for name, headers in bearer.items()
        }
        unfiltered = {
            name: client.get("/api/judge", headers=headers).json()["judgments"] for name, headers in bearer.items()
        }
    assert {name: len(rows) for name, rows in seen.items()} == {"eve": 2, "rival": 0, "vic": 0, "ada": 2}
    assert {name: len(rows) for name, rows in unfiltered.items()} == {"eve": 2, "rival": 0, "vic": 0, "ada": 2}
    with arena.database() as database, database.session() as session:
        owners = {row.owner_id for row in judgment_store.list_judgments(session, run_id=run_id)}
        assert owners == {session.scalar(select(User.id).where(User.username == "eve"))}


def test_a_raw_prompt_judge_run_is_no_battle_even_under_instance_ids(
    arena: RunningArena, double: JudgingOllama, database: Database, turn: SeededTurn
) -> None:
    # The caller writes both answers and names them after real instances: that ranks nobody.
    double.decide = prefers_paris
    berlin_id, paris_id = turn.instance_ids
    answers = [{"key": berlin_id, "text": "Paris, written by the caller."}, {"key": paris_id, "text": BERLIN}]
    response = judge(arena, prompt="What is the capital of France?", answers=answers, judge_model=JUDGE)
    assert response.status_code == 200, response.text
    assert response.json()["judgments"][0]["winner_key"] == berlin_id

    with arena.client() as client:
        for imported in ("false", "true"):
            board = client.get("/api/leaderboard", params={"source": "judge", "include_imported": imported}).json()
            assert board["rows"] == [], board


def test_a_shared_reader_cannot_unblind_a_conversation_through_the_baseline(
    double: JudgingOllama, arena_factory: ArenaFactory
) -> None:
    """Instance ids are predictable ({model}__{settings}); while blind, a baseline is a label only,
    and a right guess at an id gets the very answer a wrong guess gets: nothing runs."""
    double.decide = prefers_paris
    arena = arena_factory(accounts=True, ollama_hosts=[double.url], embedded_enabled=False)
    rival = {"Authorization": f"Bearer {api_token(arena, 'rival')}"}
    with arena.database() as database:
        turn = seed_turn(database, models=[BERLIN_MODEL, PARIS_MODEL], texts=[BERLIN, PARIS], blind=True)
        with database.session() as session:
            eve = session.scalar(select(User.id).where(User.username == "eve"))
            repository.get_conversation(session, conversation_id=turn.conversation_id).owner_id = eve
            account_store.share(session, conversation_id=turn.conversation_id, username="rival")
    body = {"conversation_id": turn.conversation_id, "turn_id": turn.turn_id, "judge_model": JUDGE}
    wrong = "ollama_gemma3_1b__0.7_0.9_40_1.1_-1_0"

    with arena.client() as client:
        answers = {
            key: client.post("/api/judge", json={**body, "baseline": key}, headers=rival)
            for key in (*turn.instance_ids, wrong, "Model Z")
        }
        assert double.judge_bodies() == [], "no guess reached the judge"
        by_label = client.post("/api/judge", json={**body, "baseline": "Model B"}, headers=rival)

    for key, response in answers.items():
        assert response.status_code == 400, (key, response.text)
        assert response.json()["error"].replace(key, "KEY") == "baseline: no model instance 'KEY' in this conversation"
    assert by_label.status_code == 200, by_label.text
    assert by_label.json()["judgments"][0]["key_a"] == "Model B"
