"""Which pair to vote on next, and how many votes would separate two neighbours (ratings/sampling.py),
on simulated battles whose truth is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from arena.evaluation.ratings.fit import Leaderboard, LeaderboardRow, leaderboard, leaderboard_of_counts
from arena.evaluation.ratings.pairs import OUTCOME_CODES, Battle, counts_from_arrays
from arena.evaluation.ratings.sampling import Z_95, Z_POWER, neighbour_votes, propose_pair, votes_to_separate

pytestmark = pytest.mark.timeout(60)


def simulate(strengths: dict[str, float], games: dict[tuple[str, str], int], seed: int = 1) -> list[Battle]:
    """Battles drawn from a Bradley–Terry truth: P(a beats b) = expit(s_a - s_b)."""
    rng = np.random.default_rng(seed)
    battles = []
    for (a, b), count in games.items():
        p = 1.0 / (1.0 + math.exp(strengths[b] - strengths[a]))
        for won in rng.random(count) < p:
            battles.append(Battle(model_a=a, model_b=b, outcome="a" if won else "b"))
    return battles


def row(model: str, rating: float, half_width: float, battles: int) -> LeaderboardRow:
    return LeaderboardRow(
        model=model, rating=rating, ci_low=rating - half_width, ci_high=rating + half_width,
        rank=1, battles=battles, wins=0, losses=0, ties=0, both_bad=0,
    )  # fmt: skip


def test_the_pair_with_overlapping_wide_intervals_and_few_battles_is_proposed() -> None:
    # strong and weak are far apart and well measured; close_1 and close_2 are near-equal with
    # few battles between them: their order is the ranking's real doubt.
    truth = {"strong": 3.0, "mid": 1.5, "close_1": 0.05, "close_2": 0.0, "weak": -3.0}
    games = {
        ("strong", "mid"): 300, ("mid", "close_1"): 300, ("mid", "close_2"): 300,
        ("close_2", "weak"): 300, ("strong", "weak"): 300, ("close_1", "close_2"): 4,
    }  # fmt: skip
    board = leaderboard(simulate(truth, games), rounds=200, seed=0)

    proposal = propose_pair(board, list(truth))

    assert proposal is not None
    assert (proposal.model_a, proposal.model_b) == ("close_1", "close_2")
    assert proposal.battles == 4
    # Among the well separated ones alone, the doubt is tiny.
    settled = propose_pair(board, ["strong", "weak"])
    assert settled is not None and settled.overlap < 0.01 < proposal.overlap


def test_a_model_without_battles_is_proposed_first_against_the_least_measured() -> None:
    board = leaderboard(simulate({"a": 0.0, "b": 0.0}, {("a", "b"): 50}), rounds=100, seed=0)

    proposal = propose_pair(board, ["a", "b", "newcomer", "a"])

    assert proposal is not None and "newcomer" in (proposal.model_a, proposal.model_b)
    assert math.isinf(proposal.score) and proposal.battles == 0 and proposal.overlap == 1.0
    assert propose_pair(board, ["a"]) is None


def test_votes_to_separate_matches_the_hand_computation() -> None:
    # Equal half-widths w = z·se and battles n; 80% power: (z + z_80)·2·se·sqrt(n/(n+k)) <= gap
    # <=>  k >= n((c·2w/gap)² - 1) with c = (z + z_80) / z.
    upper, lower = row("u", 1040.0, 30.0, 100), row("l", 1000.0, 30.0, 100)
    c = (Z_95 + Z_POWER) / Z_95
    expected = math.ceil(100 * ((c * 2 * 30.0 / 40.0) ** 2 - 1))  # 360
    assert votes_to_separate(upper, lower) == expected == 360
    # Check the boundary itself: one vote fewer is not enough.
    assert c * 2 * 30.0 * math.sqrt(100 / (100 + 359)) > 40.0 >= c * 2 * 30.0 * math.sqrt(100 / (100 + 360))

    assert votes_to_separate(row("u", 1100.0, 30.0, 100), lower) == 0  # already apart
    assert votes_to_separate(row("u", 1000.0, 30.0, 100), lower) is None  # equal ratings never separate
    unrated = LeaderboardRow(
        model="x", rating=1000.0, ci_low=None, ci_high=None, rank=1, battles=0, wins=0, losses=0, ties=0, both_bad=0
    )
    assert votes_to_separate(upper, unrated) is None


def test_votes_to_separate_shrinks_as_battles_grow() -> None:
    # The same 55% win share over more and more battles: the gap stays, the intervals narrow.
    estimates = {}
    for games in (40, 160, 1280):
        wins = round(0.55 * games)
        battles = [Battle(model_a="a", model_b="b", outcome="a" if n < wins else "b") for n in range(games)]
        board = leaderboard(battles, rounds=400, seed=0)
        estimates[games] = votes_to_separate(*board.rows)
        assert neighbour_votes(board) == [estimates[games], None]
    assert estimates[40] is not None and estimates[160] is not None
    assert estimates[40] > estimates[160] > estimates[1280] == 0
    # Theory (2 models, 55%): their half-intervals sum to about 684/sqrt(n) Elo against a gap of
    # 34.9, so they part half the time near n = 384 in all, 80% of the time near 1.43² · 384 = 785.
    assert 550 < estimates[160] + 160 < 950


def _two_model_board(wins: int, losses: int, *, rounds: int, seed: int) -> Leaderboard:
    counts = counts_from_arrays(
        models=["a", "b"], model_a=np.zeros(2, np.intp), model_b=np.ones(2, np.intp),
        outcome=np.array([OUTCOME_CODES["a"], OUTCOME_CODES["b"]]), weights=np.array([wins, losses]),
    )  # fmt: skip
    return leaderboard_of_counts(counts, rounds=rounds, seed=seed)


def test_votes_to_separate_gives_about_an_80_percent_chance_in_simulation() -> None:
    # a truly wins 58%; measured exactly so over 100 battles, the estimate says k more. Play the
    # 100 + k battles afresh 300 times from the truth: the intervals should part about 80% of the time.
    board = _two_model_board(58, 42, rounds=1000, seed=0)
    more = votes_to_separate(*board.rows)
    assert more is not None and more > 0
    rng = np.random.default_rng(7)
    replications = 300
    parted = 0
    for replication in range(replications):
        wins = int(rng.binomial(100 + more, 0.58))
        fresh = _two_model_board(wins, 100 + more - wins, rounds=200, seed=replication)
        top, bottom = fresh.rows
        parted += top.model == "a" and top.ci_low is not None and bottom.ci_high is not None and top.ci_low > bottom.ci_high
    assert 0.70 <= parted / replications <= 0.90, parted / replications


def test_an_empty_board_has_no_neighbours() -> None:
    empty = Leaderboard(rows=[], models=(), win_rate=np.zeros((0, 0)), counts=np.zeros((0, 0), int), rounds=0, seed=0)
    assert neighbour_votes(empty) == []
    assert propose_pair(empty, ["a", "b"]) is not None  # two unrated candidates: either pair will do
