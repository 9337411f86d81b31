"""The stored battles give exactly the leaderboard that deriving every battle on read gives.

One varied history (re-votes, thumbs and pairwise votes by several voters, a regenerate that
clears a pairwise vote, ties and both-bad, re-run and graded verdicts with categories, a blind
conversation revealed after its votes and one never revealed, imported conversations and an
imported vote inside a cast one, a deleted conversation, a benchmark run, a raw-prompt verdict)
is rated both ways under every filter, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select

from arena.evaluation.ratings.standings import Standings, derived_standings
from arena.evaluation.ratings.stored import stored_standings
from arena.storage import battles as battle_store
from arena.storage import bench as bench_store
from arena.storage import judgments as judgment_store
from arena.storage import repository
from arena.storage import votes as vote_store
from arena.storage.battle_models import StoredBattle
from arena.storage.db import Database
from arena.storage.models import Conversation, Instance, utcnow
from tests.support.builders import SeededTurn, seed_turn

pytestmark = pytest.mark.timeout(120)

MODELS = ["ollama:alpha", "ollama:beta", "ollama:gamma", "ollama:delta"]
JUDGES = ["ollama:judge-1", "ollama:judge-2"]
CATEGORIES = ["coding", "writing", None]


def _turn(database: Database, rng: random.Random, **extra: Any) -> SeededTurn:
    models = rng.sample(MODELS, 3)
    if rng.random() < 0.3:  # the same model at two settings: a battle rated by instance only
        models[2] = models[0]
    return seed_turn(database, models=models, temperatures=[0.1, 0.5, 0.9], **extra)


def _votes(database: Database, rng: random.Random, turn: SeededTurn) -> None:
    with database.session() as session:
        for _ in range(rng.randint(1, 6)):
            voter = rng.choice([None, 1, 2])
            if rng.random() < 0.5:
                vote_store.add_vote(
                    session,
                    conversation_id=turn.conversation_id,
                    turn_id=turn.turn_id,
                    kind="thumb",
                    value=rng.choice(["up", "down"]),
                    response_id=rng.choice(turn.response_ids),
                    voter_id=voter,
                )
            else:
                first, second = rng.sample(range(3), 2)
                vote_store.add_vote(
                    session,
                    conversation_id=turn.conversation_id,
                    turn_id=turn.turn_id,
                    kind="pairwise",
                    value=rng.choice(["A", "B", "tie", "both_bad"]),
                    instance_a=turn.instance_ids[first],
                    instance_b=turn.instance_ids[second],
                    voter_id=voter,
                )


def _verdicts(database: Database, rng: random.Random, turn: SeededTurn) -> None:
    with database.session() as session:
        for _ in range(rng.randint(0, 3)):
            judge, category = rng.choice(JUDGES), rng.choice(CATEGORIES)
            first, second = rng.sample(range(3), 2)
            if rng.random() < 0.7:
                winner = rng.choice(["a", "b", "tie"])
                judgment_store.add_judgment(
                    session, run_id="0" * 32, judge_model=judge, mode="pairwise", category=category,
                    conversation_id=turn.conversation_id, turn_id=turn.turn_id,
                    key_a=turn.instance_ids[first], key_b=turn.instance_ids[second], raw_ab="{}", raw_ba="{}",
                    verdict_ab="A", verdict_ba="A", winner=winner, consistent=winner != "tie",
                )  # fmt: skip
            else:
                judgment_store.add_judgment(
                    session, run_id="1" * 32, judge_model=judge, mode="single", category=category,
                    conversation_id=turn.conversation_id, turn_id=turn.turn_id,
                    key_a=turn.instance_ids[first], raw_ab="{}", score=float(rng.randint(1, 4)),
                )  # fmt: skip


def _bench_run(database: Database, rng: random.Random) -> None:
    with database.session() as session:
        instances = list(session.scalars(select(Instance).order_by(Instance.id)))
        run = bench_store.create_run(
            session, name="run", prompt_set_name="set", prompt_file=None, prompt_set_sha256="0" * 64,
            prompt_count=1, instances=[{"instance_id": i.id} for i in instances], judge=None, system=None,
            repeats=1, concurrency=1, seed=0, items=[], judgments=[],
        )  # fmt: skip
        for _ in range(8):
            first, second = rng.sample(instances, 2)
            winner = rng.choice(["a", "b", "tie"])
            judgment_store.add_judgment(
                session, run_id=run.id, judge_model=JUDGES[0], mode="pairwise", category=rng.choice(CATEGORIES),
                key_a=first.id, key_b=second.id, raw_ab="{}", raw_ba="{}", verdict_ab="A", verdict_ba="B",
                winner=winner, consistent=True,
            )  # fmt: skip
        for instance in instances[:3]:  # grades pair up within the run
            judgment_store.add_judgment(
                session, run_id=run.id, judge_model=JUDGES[1], mode="single", key_a=instance.id, raw_ab="{}",
                score=float(rng.randint(1, 3)), category="coding",
            )  # fmt: skip
        judgment_store.add_judgment(  # a raw prompt's verdict: never a battle
            session, run_id="2" * 32, judge_model=JUDGES[0], mode="pairwise", key_a=instances[0].id,
            key_b=instances[1].id, raw_ab="{}", raw_ba="{}", verdict_ab="A", verdict_ba="A", winner="a",
            consistent=True,
        )  # fmt: skip


def seed_history(database: Database, *, seed: int = 7) -> None:
    rng = random.Random(seed)
    for _ in range(7):
        turn = _turn(database, rng)
        _votes(database, rng, turn)
        _verdicts(database, rng, turn)
        _votes(database, rng, turn)  # re-votes
        if rng.random() < 0.3:
            with database.session() as session:
                vote_store.clear_pairwise_on_regenerate(session, turn_id=turn.turn_id)
    revealed = _turn(database, rng, blind=True)  # its battles all count as of the reveal: one instant
    _votes(database, rng, revealed)
    _verdicts(database, rng, revealed)
    with database.session() as session:
        repository.mark_revealed(session, conversation_id=revealed.conversation_id)
    hidden = _turn(database, rng, blind=True)
    _votes(database, rng, hidden)
    for mixed in (False, True):  # an imported conversation; and an imported vote in a cast one
        turn = _turn(database, rng)
        with database.session() as session:
            if not mixed:
                session.get(Conversation, turn.conversation_id).imported = True  # type: ignore[union-attr]
            vote_store.add_imported_votes(
                session, conversation_id=turn.conversation_id, turn_id=turn.turn_id, kind="pairwise", value="A",
                count=2, instance_a=turn.instance_ids[0], instance_b=turn.instance_ids[1],
            )  # fmt: skip
        _votes(database, rng, turn)
        _verdicts(database, rng, turn)
    doomed = _turn(database, rng)
    _votes(database, rng, doomed)
    with database.session() as session:
        repository.delete_conversation(session, conversation_id=doomed.conversation_id)
    _bench_run(database, rng)


def _same(stored: Standings, derived: Standings) -> None:
    assert stored.board.to_dict() == derived.board.to_dict()
    assert stored.elo == derived.elo
    assert (stored.battles_by_source, stored.judge_models, stored.categories, stored.latest, stored.names) == (
        derived.battles_by_source,
        derived.judge_models,
        derived.categories,
        derived.latest,
        derived.names,
    )


def _filters(database: Database) -> list[dict[str, Any]]:
    with database.session() as session:
        times = sorted(session.scalars(select(StoredBattle.counts_at)))
    middle = times[len(times) // 2]
    return [
        {},
        {"source": "human"},
        {"source": "judge"},
        {"judge_model": JUDGES[0]},
        {"category": "coding"},
        {"source": "judge", "category": "writing", "judge_model": JUDGES[1]},
        {"since": middle},
        {"until": middle},
        {"since": times[0] + timedelta(microseconds=1), "until": middle, "source": "human"},
        {"category": "no such category"},
    ]


def _rows(database: Database) -> list[tuple[Any, ...]]:
    with database.session() as session:
        fields = [
            (b.view, b.conversation_id, b.run_id, b.turn_id, b.instance_a, b.instance_b, b.outcome, b.source,
             b.judge_model, b.counts_at, b.kind, b.group_key, b.position)
            for b in session.scalars(select(StoredBattle))
        ]  # fmt: skip
    return sorted(fields, key=repr)


def test_stored_battles_follow_every_change_and_give_the_derived_leaderboard(database: Database) -> None:
    seed_history(database)
    cases = [
        {"unit": unit, "include_imported": imported, **filters}
        for filters in _filters(database)
        for unit, imported in (("model", False), ("instance", True))
    ] + [{"unit": "model", "include_imported": True}, {"unit": "instance", "include_imported": False}]
    for options in cases:
        _same(stored_standings(database, rounds=40, **options), derived_standings(database, rounds=40, **options))
    default = stored_standings(database, rounds=0)
    assert default.board.total_battles > 30, "the history is varied enough to mean something"
    assert stored_standings(database, include_imported=True, rounds=0).board.total_battles > default.board.total_battles

    kept = _rows(database)  # a rebuild from the signals finds the very rows kept in step
    with database.session() as session:
        assert battle_store.rebuild(session) == len(kept)
    assert _rows(database) == kept

    config = database.alembic_config()  # migration 0024 backfills an existing database
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0023")
    database.migrate()
    assert _rows(database) == kept
    _same(stored_standings(database, rounds=40), derived_standings(database, rounds=40))


def test_a_vote_counts_at_once_and_a_re_vote_replaces_it(database: Database) -> None:
    turn = seed_turn(database, models=MODELS[:2])
    with database.session() as session:
        for value in ("A", "B"):
            vote_store.add_vote(
                session, conversation_id=turn.conversation_id, turn_id=turn.turn_id, kind="pairwise", value=value,
                instance_a=turn.instance_ids[0], instance_b=turn.instance_ids[1],
            )  # fmt: skip
    board = stored_standings(database, rounds=0).board
    assert [(row.model, row.wins, row.losses) for row in board.rows] == [(MODELS[1], 1, 0), (MODELS[0], 0, 1)]
    assert utcnow() - stored_standings(database, rounds=0).latest < timedelta(minutes=1)  # type: ignore[operator]


def test_online_elo_read_on_from_the_last_read_stays_exact_through_new_votes_re_votes_and_deletes(
    database: Database,
) -> None:
    rng = random.Random(5)
    turns = [_turn(database, rng) for _ in range(3)]
    for turn in turns:
        _votes(database, rng, turn)

    def check() -> None:
        for options in ({}, {"source": "human", "unit": "instance"}):
            assert (
                stored_standings(database, rounds=0, **options).elo
                == derived_standings(database, rounds=0, **options).elo
            )

    check()
    _votes(database, rng, _turn(database, rng))  # later battles: read on from the last read
    check()
    _votes(database, rng, turns[0])  # re-votes on an early turn: earlier battles change
    check()
    with database.session() as session:
        repository.delete_conversation(session, conversation_id=turns[1].conversation_id)
    check()
