"""The judges' numbers are kept per process until a vote or verdict changes them: /api/judges and
the judge pickers read every verdict only after a change, never on every call."""

from __future__ import annotations

from typing import Any

import pytest

from arena.evaluation.judge import trust
from arena.storage import repository
from arena.storage.db import Database
from tests.evaluation.test_judge_stats import _verdict
from tests.support.builders import pairwise_vote, seed_turn

pytestmark = pytest.mark.timeout(60)
MODELS = ["ollama:alpha", "ollama:beta"]


def test_the_numbers_are_read_again_only_after_votes_verdicts_or_a_reveal_change_them(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    turn = seed_turn(database, models=MODELS)
    _verdict(database, turn, "A", "B", judge="ollama:big")  # alpha wins
    (first,) = trust.stored_judge_stats(database)
    assert (first.pairs, first.humans.compared) == (1, 0)

    read = trust.verdict_pairs
    calls: list[Any] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return read(*args, **kwargs)

    monkeypatch.setattr(trust, "verdict_pairs", counted)
    assert trust.stored_judge_stats(database) == [first] and calls == []  # nothing changed: kept

    pairwise_vote(database, turn, "A")  # a human agrees
    (voted,) = trust.stored_judge_stats(database)
    assert (voted.humans.compared, voted.humans.agreement) == (1, 1.0) and len(calls) == 1

    pairwise_vote(database, turn, "B")  # the same voter's re-vote: now they disagree
    (revoted,) = trust.stored_judge_stats(database)
    assert (revoted.humans.compared, revoted.humans.agreement) == (1, 0.0) and len(calls) == 2

    blind = seed_turn(database, models=MODELS, blind=True)
    _verdict(database, blind, "A", "A", judge="ollama:big")  # unrevealed: not counted yet
    assert trust.stored_judge_stats(database)[0].pairs == 1
    with database.session() as session:
        repository.mark_revealed(session, conversation_id=blind.conversation_id)
    assert trust.stored_judge_stats(database)[0].pairs == 2
    assert trust.stored_judge_stats(database, judge_model="ollama:big")[0].pairs == 2
