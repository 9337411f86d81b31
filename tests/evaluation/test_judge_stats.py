"""Judges' numbers on simulated verdicts whose consistency, bias and agreement are known by hand,
and the same numbers from verdicts and votes stored in SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from arena.evaluation.judge.stats import JudgedPair, cohen_kappa, judge_stats
from arena.evaluation.judge.trust import judge_warning, stored_judge_stats
from arena.storage import judgments as judgment_store
from arena.storage.crypto import Keyring
from arena.storage.db import Database
from tests.support.builders import SeededTurn, pairwise_vote, seed_turn

pytestmark = pytest.mark.timeout(60)

# Four pairs: A·B (consistent, a), B·A (consistent, b), A·A (a flip: tie), tie·tie (consistent tie).
# Human votes on them, in key_a/key_b terms: a; a; tie; b and both_bad.
MIXED = [
    JudgedPair(judge_model="ollama:big", verdict_ab="A", verdict_ba="B", humans=("a",)),
    JudgedPair(judge_model="ollama:big", verdict_ab="B", verdict_ba="A", humans=("a",)),
    JudgedPair(judge_model="ollama:big", verdict_ab="A", verdict_ba="A", humans=("tie",)),
    JudgedPair(judge_model="ollama:big", verdict_ab="tie", verdict_ba="tie", humans=("b", "both_bad")),
]
ALWAYS_A = [JudgedPair(judge_model="local:small", verdict_ab="A", verdict_ba="A") for _ in range(6)]


def test_consistency_position_bias_and_ties_per_judge() -> None:
    small, big = judge_stats([*ALWAYS_A, *MIXED])

    assert (big.judge_model, big.pairs) == ("ollama:big", 4)
    assert big.consistency == 0.75  # 3 of 4 pairs agree in both orders
    assert big.first_position == 0.5  # A, B, B, A, A, A, tie, tie: 4 of 8 verdicts chose the first shown
    assert big.always_first == 0.25  # one pair: A in both orders
    assert big.tie_rate == 0.25  # 2 of 8 verdicts
    assert big.unreliable is False and big.advice is None

    assert (small.judge_model, small.pairs) == ("local:small", 6)
    assert (small.consistency, small.first_position, small.always_first, small.tie_rate) == (0.0, 1.0, 1.0, 0.0)
    assert small.unreliable is True
    assert small.advice is not None
    assert small.advice.startswith("local:small was inconsistent on 6 of 6 pairs")
    assert "bigger judge" in small.advice


def test_agreement_with_humans_with_and_without_ties_and_kappa() -> None:
    (big,) = judge_stats(MIXED)
    humans = big.humans
    # (judge, human): (a,a) (b,a) (tie,tie) (tie,b) (tie,tie): 3 of 5 agree.
    assert humans.compared == 5
    assert humans.agreement == pytest.approx(0.6)
    # chance: judge a 1/5, b 1/5, tie 3/5; human a 2/5, b 1/5, tie 2/5 → (2 + 1 + 6) / 25 = 0.36
    assert humans.kappa == pytest.approx((0.6 - 0.36) / (1 - 0.36))  # 0.375
    # Without ties: (a,a) and (b,a) only.
    assert humans.compared_without_ties == 2
    assert humans.agreement_without_ties == pytest.approx(0.5)
    assert humans.kappa_without_ties == pytest.approx(0.0)  # chance is 0.5 too: no better than chance


def test_no_humans_and_one_label_give_no_number_rather_than_a_made_up_one() -> None:
    (small,) = judge_stats(ALWAYS_A)
    assert (small.humans.compared, small.humans.agreement, small.humans.kappa) == (0, None, None)
    assert cohen_kappa([("a", "a"), ("a", "a")]) is None  # chance agreement is certain
    assert cohen_kappa([("a", "b"), ("b", "a")]) == pytest.approx(-1.0)


def test_too_few_pairs_are_not_flagged() -> None:
    (few,) = judge_stats(ALWAYS_A[:4])
    assert few.consistency == 0.0 and few.unreliable is False


def _verdict(database: Database, turn: SeededTurn, ab: str, ba: str, *, judge: str, swapped: bool = False) -> None:
    first, second = (1, 0) if swapped else (0, 1)
    with database.session() as session:
        judgment_store.add_judgment(
            session,
            run_id="2" * 32,
            judge_model=judge,
            mode="pairwise",
            conversation_id=turn.conversation_id,
            turn_id=turn.turn_id,
            key_a=turn.instance_ids[first],
            key_b=turn.instance_ids[second],
            raw_ab="{}",
            raw_ba="{}",
            verdict_ab=ab,
            verdict_ba=ba,
            winner="tie",  # what the storage keeps is not what the statistics read
            consistent=False,
        )


def test_stored_verdicts_meet_the_human_votes_on_the_same_answers(database: Database) -> None:
    models = ["ollama:alpha", "ollama:beta"]
    agreed = seed_turn(database, models=models)
    _verdict(database, agreed, "A", "B", judge="ollama:big")  # alpha wins
    pairwise_vote(database, agreed, "A")  # the human: alpha
    reversed_keys = seed_turn(database, models=models)
    _verdict(database, reversed_keys, "A", "B", judge="ollama:big", swapped=True)  # beta (its key_a) wins
    pairwise_vote(database, reversed_keys, "A")  # the human: alpha, i.e. "b" in the verdict's frame
    blind = seed_turn(database, models=models, blind=True)  # unrevealed: counts nowhere
    _verdict(database, blind, "A", "A", judge="ollama:big")
    pairwise_vote(database, blind, "B")
    for _ in range(5):
        _verdict(database, seed_turn(database, models=models), "A", "A", judge="local:small")

    small, big = stored_judge_stats(database)

    assert (big.judge_model, big.pairs, big.consistency) == ("ollama:big", 2, 1.0)
    assert (big.humans.compared, big.humans.agreement) == (2, 0.5)
    assert (small.pairs, small.consistency, small.always_first, small.unreliable) == (5, 0.0, 1.0, True)
    assert judge_warning(database, "local:small") == small.advice
    assert judge_warning(database, "ollama:big") is None
    assert judge_warning(database, "ollama:never-used") is None


def test_keys_stored_encrypted_still_meet_the_votes_on_their_answers(database: Database) -> None:
    encrypted = Database(url=database.url.render_as_string(hide_password=False), keyring=Keyring.of(bytes(range(32))))
    try:
        turn = seed_turn(encrypted, models=["ollama:alpha", "ollama:beta"])
        _verdict(encrypted, turn, "B", "A", judge="ollama:big")  # beta
        pairwise_vote(encrypted, turn, "B")
        (big,) = stored_judge_stats(encrypted)
    finally:
        encrypted.dispose()
    assert (big.pairs, big.consistency, big.humans.compared, big.humans.agreement) == (1, 1.0, 1, 1.0)
