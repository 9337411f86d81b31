"""Battles from every pairwise signal: human votes, thumbs, judge verdicts; and the standings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from arena.errors import InvalidInput, NotFound
from arena.evaluation.ratings.pairs import Battle
from arena.evaluation.ratings.standings import derive_battles, load_battles, standings
from arena.storage import bench as bench_store
from arena.storage import judgments as judgment_store
from arena.storage import repository
from arena.storage.battle_signals import BattleSignals, JudgmentSignal
from arena.storage.db import Database
from tests.support.builders import SeededTurn, judged_pair, pairwise_vote, seed_turn, thumb

ALPHA, BETA, GAMMA = "ollama:alpha", "ollama:beta", "ollama:gamma"


def graded(database: Database, turn: SeededTurn, index: int, score: float, *, mode: str = "single") -> None:
    with database.session() as session:
        judgment_store.add_judgment(
            session,
            run_id="1" * 32,
            judge_model="ollama:judge",
            mode=mode,
            conversation_id=turn.conversation_id,
            turn_id=turn.turn_id,
            key_a=turn.instance_ids[index],
            raw_ab="{}",
            score=score,
        )


def outcomes(battles: list[Battle]) -> list[tuple[str, str, str, str | None]]:
    return [(b.model_a, b.model_b, b.outcome, b.source) for b in battles]


def test_each_pairwise_vote_becomes_a_human_battle_between_models(database: Database) -> None:
    first = seed_turn(database, models=[ALPHA, BETA])
    second = seed_turn(database, models=[BETA, GAMMA])
    pairwise_vote(database, first, "A")
    pairwise_vote(database, second, "both_bad")
    third = seed_turn(database, models=[ALPHA, GAMMA])
    pairwise_vote(database, third, "tie")

    battles = load_battles(database)

    assert outcomes(battles) == [
        (ALPHA, BETA, "a", "human"),
        (BETA, GAMMA, "both_bad", "human"),
        (ALPHA, GAMMA, "tie", "human"),
    ]
    assert all(b.timestamp is not None and b.timestamp.tzinfo is not None for b in battles)


def test_thumbs_on_one_turn_pair_up_with_both_bad_kept_apart_from_ties(database: Database) -> None:
    turn = seed_turn(database, models=[ALPHA, BETA, GAMMA])
    thumb(database, turn, 0, "up")
    thumb(database, turn, 1, "down")
    thumb(database, turn, 2, "down")

    assert sorted(outcomes(load_battles(database))) == [
        (ALPHA, BETA, "a", "human"),
        (ALPHA, GAMMA, "a", "human"),
        (BETA, GAMMA, "both_bad", "human"),
    ]

    thumb(database, turn, 2, "up")  # the voter changes their mind: the newer thumb counts
    assert sorted(outcomes(load_battles(database))) == [
        (ALPHA, BETA, "a", "human"),
        (ALPHA, GAMMA, "tie", "human"),
        (BETA, GAMMA, "b", "human"),
    ]


def test_thumbs_of_different_voters_are_not_paired(database: Database) -> None:
    turn = seed_turn(database, models=[ALPHA, BETA])
    thumb(database, turn, 0, "up", voter_id=1)
    thumb(database, turn, 1, "down", voter_id=2)

    assert load_battles(database) == []


def test_a_pairwise_vote_replaces_the_pair_its_voters_thumbs_would_give(database: Database) -> None:
    turn = seed_turn(database, models=[ALPHA, BETA])
    thumb(database, turn, 0, "up")
    thumb(database, turn, 1, "down")
    pairwise_vote(database, turn, "B")

    assert outcomes(load_battles(database)) == [(ALPHA, BETA, "b", "human")]


def test_judge_verdicts_become_judge_battles_and_only_the_latest_per_pair_counts(database: Database) -> None:
    turn = seed_turn(database, models=[ALPHA, BETA])
    judged_pair(database, turn, winner="b", category="math")
    judged_pair(database, turn, winner="a", category="math")  # the same judge again: replaces
    judged_pair(database, turn, winner="tie", judge="ollama:other")

    battles = load_battles(database)

    assert sorted((b.outcome, b.judge_model, b.category, b.source) for b in battles) == [
        ("a", "ollama:judge", "math", "judge"),
        ("tie", "ollama:other", None, "judge"),
    ]


def test_grades_of_one_turn_by_one_judge_pair_up_by_score(database: Database) -> None:
    turn = seed_turn(database, models=[ALPHA, BETA, GAMMA])
    graded(database, turn, 0, 8)
    graded(database, turn, 1, 3)
    graded(database, turn, 2, 8)
    graded(database, turn, 1, 9, mode="reference")  # another mode: a separate set of grades

    assert sorted(outcomes(load_battles(database))) == [
        (ALPHA, BETA, "a", "judge"),
        (ALPHA, GAMMA, "tie", "judge"),
        (BETA, GAMMA, "b", "judge"),
    ]


def raw_judgment(
    database: Database, *, key_a: str, key_b: str, winner: str, category: str | None = None, run_id: str = "2" * 32
) -> None:
    with database.session() as session:
        judgment_store.add_judgment(
            session,
            run_id=run_id,
            judge_model="ollama:judge",
            mode="pairwise",
            category=category,
            key_a=key_a,
            key_b=key_b,
            raw_ab="{}",
            raw_ba="{}",
            verdict_ab="A",
            verdict_ba="B",
            winner=winner,
            consistent=True,
        )


def bench_run(database: Database, instance_ids: list[str]) -> str:
    with database.session() as session:
        return bench_store.create_run(
            session, name="run", prompt_set_name="set", prompt_file=None, prompt_set_sha256="0" * 64,
            prompt_count=1, instances=[{"instance_id": i} for i in instance_ids], judge=None, system=None,
            repeats=1, concurrency=1, seed=0, items=[], judgments=[],
        ).id  # fmt: skip


def test_only_a_benchmark_runs_verdicts_count_without_a_turn_never_a_raw_prompt_judge_run(database: Database) -> None:
    turn = seed_turn(database, models=[ALPHA, BETA])  # records the instances
    alpha, beta = turn.instance_ids
    run_id = bench_run(database, [alpha, beta])
    raw_judgment(database, key_a=alpha, key_b=beta, winner="a", category="math", run_id=run_id)
    raw_judgment(database, key_a=alpha, key_b=beta, winner="a", category="math", run_id=run_id)  # both count
    gamma = seed_turn(database, models=[GAMMA]).instance_ids[0]
    raw_judgment(database, key_a=gamma, key_b=beta, winner="a", run_id=run_id)  # gamma is not in the run
    # A raw-prompt judge run: the answers are the caller's text, whatever keys they were given.
    raw_judgment(database, key_a=alpha, key_b=beta, winner="b")
    raw_judgment(database, key_a="mine", key_b="theirs", winner="b")

    battles = load_battles(database)

    assert [(b.model_a, b.model_b, b.outcome, b.category) for b in battles] == [(ALPHA, BETA, "a", "math")] * 2
    assert len(load_battles(database, include_imported=True)) == 2, "a raw run is no imported data either"


def test_nothing_about_an_imported_conversation_counts_unless_asked_for(database: Database) -> None:
    turn = seed_turn(database, models=[ALPHA, BETA, GAMMA])
    with database.session() as session:
        repository.get_conversation(session, conversation_id=turn.conversation_id).imported = True
    pairwise_vote(database, turn, "A")  # cast here, after the import
    thumb(database, turn, 0, "up")
    thumb(database, turn, 2, "down")
    judged_pair(database, turn, winner="a")

    assert load_battles(database) == []
    assert sorted(outcomes(load_battles(database, include_imported=True))) == [
        (ALPHA, BETA, "a", "human"),
        (ALPHA, BETA, "a", "judge"),
        (ALPHA, GAMMA, "a", "human"),
    ]


def test_a_blind_conversation_counts_only_from_its_reveal(database: Database) -> None:
    turn = seed_turn(database, models=[ALPHA, BETA, GAMMA], blind=True)
    pairwise_vote(database, turn, "B")
    thumb(database, turn, 0, "up")
    thumb(database, turn, 2, "down")
    judged_pair(database, turn, winner="b")
    graded(database, turn, 0, 7)
    graded(database, turn, 1, 3)

    # Counted before the reveal, a narrow window or the by-instance board would say who Model B is.
    assert load_battles(database) == []
    assert load_battles(database, unit="instance") == []
    assert load_battles(database, include_imported=True) == []

    revealed_at = datetime.now(UTC) + timedelta(hours=1)  # a reveal well after every signal
    with database.session() as session:
        repository.mark_revealed(session, conversation_id=turn.conversation_id, at=revealed_at)

    battles = load_battles(database)
    assert sorted(outcomes(battles)) == [
        (ALPHA, BETA, "a", "judge"),  # the grades
        (ALPHA, BETA, "b", "human"),
        (ALPHA, BETA, "b", "judge"),
        (ALPHA, GAMMA, "a", "human"),
    ]
    assert {b.timestamp for b in battles} == {revealed_at}, "a battle counts from the reveal, not before"
    assert not standings(battles, until=revealed_at).board.models
    assert len(standings(battles, since=revealed_at).board.models) == 3


def test_an_imported_blind_conversation_not_yet_revealed_never_counts(database: Database) -> None:
    turn = seed_turn(database, models=[ALPHA, BETA], blind=True)
    with database.session() as session:
        repository.get_conversation(session, conversation_id=turn.conversation_id).imported = True
    pairwise_vote(database, turn, "A")
    judged_pair(database, turn, winner="a")

    assert load_battles(database, include_imported=True) == []


def test_two_settings_of_one_model_battle_only_when_rating_instances(database: Database) -> None:
    turn = seed_turn(database, models=[ALPHA, ALPHA], temperatures=[0.2, 0.9])
    pairwise_vote(database, turn, "A")

    assert load_battles(database) == []
    by_instance = load_battles(database, unit="instance")
    assert outcomes(by_instance) == [(turn.instance_ids[0], turn.instance_ids[1], "a", "human")]


def test_deleting_a_conversation_removes_its_battles(database: Database) -> None:
    turn = seed_turn(database, models=[ALPHA, BETA])
    pairwise_vote(database, turn, "A")
    judged_pair(database, turn, winner="a")
    with database.session() as session:
        repository.delete_conversation(session, conversation_id=turn.conversation_id)

    assert load_battles(database) == []


def test_a_judgment_needs_its_turn_in_its_conversation(database: Database) -> None:
    turn = seed_turn(database, models=[ALPHA, BETA])
    other = seed_turn(database, models=[ALPHA, BETA])
    with pytest.raises(NotFound, match="not part of conversation"):
        judged_pair(database, SeededTurn(other.conversation_id, turn.turn_id, turn.instance_ids, []), winner="a")
    with database.session() as session:
        assert judgment_store.list_judgments(session) == []


T0 = datetime(2025, 3, 1, tzinfo=UTC)


def signal(model_a: str, model_b: str, winner: str, *, minutes: int, judge: str = "j", category: str | None = None):
    return JudgmentSignal(
        id=minutes,
        run_id="r",
        turn_id=minutes,
        judge_model=judge,
        mode="pairwise",
        category=category,
        instance_a=model_a + "@",
        instance_b=model_b + "@",
        model_a=model_a,
        model_b=model_b,
        winner=winner,
        score=None,
        counts_at=T0 + timedelta(minutes=minutes),
    )


def test_standings_filter_by_source_judge_category_and_time() -> None:
    judged = [
        signal(ALPHA, BETA, "a", minutes=1, category="code"),
        signal(ALPHA, BETA, "a", minutes=2, judge="k"),
        signal(BETA, GAMMA, "b", minutes=30, category="code"),
    ]
    battles = derive_battles(BattleSignals(pairwise_votes=[], thumbs=[], judgments=judged))

    everything = standings(battles, rounds=50)
    assert everything.board.total_battles == 3
    assert everything.battles_by_source == {"human": 0, "judge": 3}
    assert everything.judge_models == ["j", "k"] and everything.categories == ["code"]
    assert everything.latest == T0 + timedelta(minutes=30)

    assert standings(battles, judge_model="k", rounds=0).board.total_battles == 1
    coded = standings(battles, category="code", rounds=0)
    assert coded.board.total_battles == 2 and coded.judge_models == ["j", "k"]  # choices stay complete
    naive_since = (T0 + timedelta(minutes=10)).replace(tzinfo=None)  # read as UTC
    late = standings(battles, since=naive_since, rounds=0)
    assert [(r.model, r.wins) for r in late.board.rows] == [(GAMMA, 1), (BETA, 0)]
    assert standings(battles, source="human", rounds=0).board.rows == []


def test_standings_refuse_an_empty_time_window_and_too_many_rounds() -> None:
    with pytest.raises(InvalidInput, match="since must come before until"):
        standings([], since=T0, until=T0)
    with pytest.raises(InvalidInput, match="rounds"):
        standings([], rounds=10**6)
