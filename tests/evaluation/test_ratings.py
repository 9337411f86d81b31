from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy.optimize import minimize

from arena.errors import InvalidInput
from arena.evaluation.ratings.fit import (
    DEFAULT_L2,
    battle_count_matrix,
    bootstrap,
    bradley_terry,
    filter_battles,
    leaderboard,
    online_elo,
    rank_by_upper_bound,
    win_rate_matrix,
)
from arena.evaluation.ratings.pairs import OUTCOME_CODES, Battle, aggregate, counts_from_arrays

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def battles_of(*spec: tuple[str, str, str, int], **fields: object) -> list[Battle]:
    """Battles from (model_a, model_b, outcome, how many) tuples."""
    return [
        Battle(model_a=a, model_b=b, outcome=outcome, **fields)  # type: ignore[arg-type]
        for a, b, outcome, times in spec
        for _ in range(times)
    ]


HAND_MADE = battles_of(
    ("alpha", "beta", "a", 7),
    ("beta", "alpha", "a", 3),
    ("alpha", "beta", "tie", 2),
    ("alpha", "gamma", "a", 5),
    ("gamma", "alpha", "a", 4),
    ("beta", "gamma", "b", 6),
    ("gamma", "beta", "both_bad", 3),
    ("beta", "gamma", "a", 2),
    ("delta", "alpha", "b", 3),
    ("delta", "gamma", "a", 2),
    ("gamma", "delta", "a", 3),
    ("delta", "beta", "tie", 1),
    ("beta", "delta", "a", 2),
)


def reference_fit(battles: list[Battle], *, l2: float) -> dict[str, float]:
    """The same penalised likelihood written battle by battle and handed to scipy (natural units)."""
    models = sorted({b.model_a for b in battles} | {b.model_b for b in battles})
    index = {model: i for i, model in enumerate(models)}
    first = np.array([index[b.model_a] for b in battles])
    second = np.array([index[b.model_b] for b in battles])
    score = np.array([{"a": 1.0, "b": 0.0}.get(b.outcome, 0.5) for b in battles])

    def negative_log_likelihood(theta: np.ndarray) -> float:
        gap = theta[first] - theta[second]
        log_win = -np.logaddexp(0.0, -gap)
        log_loss = -np.logaddexp(0.0, gap)
        return float(-(score * log_win + (1 - score) * log_loss).sum() + 0.5 * l2 * theta @ theta)

    theta = minimize(negative_log_likelihood, np.zeros(len(models)), method="BFGS", options={"gtol": 1e-10}).x
    theta -= theta.mean()
    return dict(zip(models, theta))


@pytest.mark.parametrize(
    ("scale", "base", "mean"), [(400.0, 10.0, 1000.0), (1.0, math.e, 0.0), (100.0, 2.0, 1500.0)]
)
def test_bradley_terry_matches_an_independent_likelihood_fit(scale: float, base: float, mean: float) -> None:
    counts = aggregate(HAND_MADE)
    ratings = bradley_terry(counts, scale=scale, base=base, mean=mean)
    expected = reference_fit(HAND_MADE, l2=DEFAULT_L2)
    for model, rating in zip(counts.models, ratings):
        assert rating == pytest.approx(mean + expected[model] * scale / math.log(base), abs=1e-4 * scale)
    assert ratings.mean() == pytest.approx(mean)


def test_the_tiny_penalty_barely_moves_ordinary_ratings() -> None:
    counts = aggregate(HAND_MADE)
    penalised = bradley_terry(counts)
    nearly_unpenalised = bradley_terry(counts, l2=1e-9)
    assert np.abs(penalised - nearly_unpenalised).max() < 0.5


def simulate(*, strengths: np.ndarray, battles: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    first = rng.integers(0, strengths.size, battles)
    second = (first + rng.integers(1, strengths.size, battles)) % strengths.size
    expected = 1.0 / (1.0 + 10.0 ** ((strengths[second] - strengths[first]) / 400.0))
    tie = 0.2 * 4 * expected * (1 - expected)  # keeps the expected score at the BT value
    draw = rng.random(battles)
    outcome = np.where(draw < expected - tie / 2, 0, np.where(draw < expected + tie / 2, 2, 1))
    return first, second, outcome


def test_bradley_terry_recovers_simulated_strengths() -> None:
    strengths = np.array([1250.0, 1150.0, 1080.0, 1000.0, 960.0, 900.0, 850.0, 810.0])
    strengths += 1000.0 - strengths.mean()
    first, second, outcome = simulate(strengths=strengths, battles=40_000, seed=7)
    counts = counts_from_arrays(
        models=[f"m{i}" for i in range(strengths.size)], model_a=first, model_b=second, outcome=outcome
    )
    ratings = bradley_terry(counts)
    assert np.abs(ratings - strengths).max() < 20.0
    assert list(np.argsort(-ratings)) == list(range(strengths.size))


def test_ties_count_as_half_a_win() -> None:
    only_ties = aggregate(battles_of(("x", "y", "tie", 5), ("y", "x", "tie", 4)))
    assert bradley_terry(only_ties) == pytest.approx([1000.0, 1000.0])
    assert np.allclose(bootstrap(only_ties, rounds=50).samples, 1000.0)  # in every resample too

    # One win and two ties is worth two points to one, exactly like two wins to one.
    with_ties = bradley_terry(aggregate(battles_of(("x", "y", "a", 1), ("x", "y", "tie", 2))))
    with_wins = bradley_terry(aggregate(battles_of(("x", "y", "a", 2), ("y", "x", "a", 1))))
    assert with_ties == pytest.approx(with_wins)
    assert with_ties[0] > with_ties[1]


def test_an_undefeated_model_stays_finite_and_on_top() -> None:
    battles = battles_of(("champ", "mid", "a", 4), ("mid", "low", "a", 3), ("low", "mid", "a", 1), ("x", "y", "tie", 1))
    counts = aggregate(battles)
    ratings = dict(zip(counts.models, bradley_terry(counts)))
    assert all(math.isfinite(value) for value in ratings.values())
    assert ratings["champ"] > ratings["mid"] > ratings["low"]
    assert ratings["x"] == pytest.approx(ratings["y"])


def test_both_bad_is_counted_apart_but_rated_as_a_tie() -> None:
    battles = battles_of(("p", "q", "a", 3), ("p", "q", "tie", 2), ("q", "p", "both_bad", 4))
    counts = aggregate(battles)
    assert counts.ties[0, 1] == counts.ties[1, 0] == 2
    assert counts.both_bad[0, 1] == counts.both_bad[1, 0] == 4
    assert counts.wins[0, 1] == 3 and counts.wins[1, 0] == 0

    as_ties = aggregate(battles_of(("p", "q", "a", 3), ("p", "q", "tie", 6)))
    assert bradley_terry(counts) == pytest.approx(bradley_terry(as_ties))
    without = aggregate(battles_of(("p", "q", "a", 3), ("p", "q", "tie", 2)))
    assert bradley_terry(counts, both_bad_as_tie=False) == pytest.approx(bradley_terry(without))

    board = leaderboard(battles, rounds=0)
    row = {row.model: row for row in board.rows}["p"]
    assert (row.battles, row.wins, row.losses, row.ties, row.both_bad) == (9, 3, 0, 2, 4)


def test_counts_from_arrays_agree_with_aggregate() -> None:
    counts = aggregate(HAND_MADE)
    index = {model: i for i, model in enumerate(counts.models)}
    from_arrays = counts_from_arrays(
        models=counts.models,
        model_a=np.array([index[b.model_a] for b in HAND_MADE]),
        model_b=np.array([index[b.model_b] for b in HAND_MADE]),
        outcome=np.array([OUTCOME_CODES[b.outcome] for b in HAND_MADE]),
    )
    for name in ("wins", "ties", "both_bad"):
        assert np.array_equal(getattr(counts, name), getattr(from_arrays, name))
    assert counts.battles.sum() // 2 == len(HAND_MADE)


def test_bad_battles_are_rejected() -> None:
    with pytest.raises(InvalidInput, match="outcome"):
        Battle(model_a="x", model_b="y", outcome="draw")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="two different models"):
        Battle(model_a="x", model_b="x", outcome="a")
    with pytest.raises(InvalidInput, match="source"):
        Battle(model_a="x", model_b="y", outcome="a", source="crowd")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="two different models"):
        counts_from_arrays(models=["x", "y"], model_a=np.array([0]), model_b=np.array([0]), outcome=np.array([0]))


def test_elo_moves_winner_up_and_loser_down() -> None:
    ratings = online_elo(battles_of(("x", "y", "a", 1)), k=32)
    assert ratings["x"] == pytest.approx(1016.0)
    assert ratings["y"] == pytest.approx(984.0)

    ratings = online_elo(battles_of(("x", "y", "b", 1), ("x", "z", "tie", 1)), k=32)
    assert ratings["y"] > 1000.0 > ratings["x"] > 984.0  # x won back a little with the tie
    assert ratings["z"] < 1000.0  # a tie against a weaker model costs a little
    assert sum(ratings.values()) == pytest.approx(3000.0)


def test_elo_depends_on_battle_order() -> None:
    forward = battles_of(("x", "y", "a", 1), ("y", "z", "a", 1), ("z", "x", "a", 1), ("x", "y", "a", 1))
    backward = list(reversed(forward))
    assert online_elo(forward, k=32) != pytest.approx(online_elo(backward, k=32))
    # BT sees the same counts either way.
    assert bradley_terry(aggregate(forward)) == pytest.approx(bradley_terry(aggregate(backward)))


def test_elo_can_leave_both_bad_out() -> None:
    battles = battles_of(("x", "y", "a", 1), ("x", "y", "both_bad", 3))
    assert online_elo(battles, both_bad_as_tie=False) == online_elo(battles[:1])
    assert online_elo(battles)["x"] < online_elo(battles[:1])["x"]


def test_bootstrap_is_reproducible_for_a_seed() -> None:
    counts = aggregate(HAND_MADE)
    first = bootstrap(counts, rounds=200, seed=3)
    again = bootstrap(counts, rounds=200, seed=3)
    other = bootstrap(counts, rounds=200, seed=4)
    assert np.array_equal(first.samples, again.samples)
    assert np.array_equal(first.ci_low, again.ci_low)
    assert not np.array_equal(first.samples, other.samples)
    assert first.samples.shape == (200, len(counts.models))
    assert np.allclose(first.samples.mean(axis=1), 1000.0)


def test_bootstrap_intervals_contain_the_estimate_and_narrow_with_more_battles() -> None:
    counts = aggregate(HAND_MADE)
    result = bootstrap(counts, rounds=300, seed=0)
    assert result.ratings == pytest.approx(bradley_terry(counts))
    assert np.all(result.ci_low < result.ratings)
    assert np.all(result.ratings < result.ci_high)
    # The resamples scatter around the estimate rather than beside it.
    offset = np.abs(np.median(result.samples, axis=0) - result.ratings)
    assert np.all(offset < 0.2 * (result.ci_high - result.ci_low))

    tenfold = aggregate(HAND_MADE * 10)
    bigger = bootstrap(tenfold, rounds=300, seed=0)
    assert bigger.ratings == pytest.approx(result.ratings, abs=0.5)
    assert np.all(bigger.ci_high - bigger.ci_low < 0.6 * (result.ci_high - result.ci_low))


def test_groups_never_compared_stay_finite_and_centred_in_every_round() -> None:
    # a and b never meet c and d, so nothing but the penalty places one group against the
    # other: each sits at the mean, in every resample too (no battle between them is invented).
    battles = battles_of(("a", "b", "a", 6), ("b", "a", "a", 2), ("c", "d", "a", 1), ("d", "c", "a", 3))
    result = bootstrap(aggregate(battles), rounds=100, seed=1)
    assert np.all(np.isfinite(result.samples))
    assert np.allclose(result.samples[:, 0] + result.samples[:, 1], 2000.0)
    assert np.allclose(result.samples[:, 2] + result.samples[:, 3], 2000.0)
    assert result.ratings[0] > result.ratings[1] and result.ratings[3] > result.ratings[2]


def test_rank_by_upper_bound() -> None:
    low = np.array([1100.0, 1050.0, 900.0, 950.0])
    high = np.array([1200.0, 1150.0, 1000.0, 1060.0])
    # b overlaps a, so both rank first; only a lies wholly above d (second); a and b lie wholly
    # above c, while d overlaps c (third).
    assert rank_by_upper_bound(ci_low=low, ci_high=high).tolist() == [1, 1, 3, 2]


def test_win_rate_and_count_matrices() -> None:
    counts = aggregate(battles_of(("u", "v", "a", 3), ("v", "u", "tie", 1), ("u", "w", "both_bad", 2)))
    rate = win_rate_matrix(counts)
    u, v, w = (counts.models.index(name) for name in ("u", "v", "w"))
    assert rate[u, v] == pytest.approx(3.5 / 4)
    assert rate[v, u] == pytest.approx(0.5 / 4)
    assert rate[u, w] == pytest.approx(0.5)
    assert math.isnan(rate[v, w]) and math.isnan(rate[u, u])
    assert math.isnan(win_rate_matrix(counts, both_bad_as_tie=False)[u, w])
    battles = battle_count_matrix(counts)
    assert battles[u, v] == battles[v, u] == 4
    assert battles[u, w] == 2 and battles[v, w] == 0


def test_leaderboard_rows_matrices_and_json() -> None:
    board = leaderboard(HAND_MADE, rounds=200, seed=0)
    ratings = [row.rating for row in board.rows]
    assert ratings == sorted(ratings, reverse=True)
    assert [row.model for row in board.rows] == list(board.models)
    assert board.total_battles == len(HAND_MADE)
    for position, row in enumerate(board.rows):
        assert row.ci_low is not None and row.ci_high is not None
        assert row.ci_low <= row.rating <= row.ci_high
        assert row.battles == board.counts[position].sum()
        assert row.battles == row.wins + row.losses + row.ties + row.both_bad
    assert board.rows[0].rank == 1
    off_diagonal = ~np.eye(len(board.models), dtype=bool)
    assert np.allclose((board.win_rate + board.win_rate.T)[off_diagonal], 1.0)

    data = json.loads(json.dumps(board.to_dict(), allow_nan=False))
    assert data["models"] == list(board.models)
    assert data["rows"][0]["model"] == board.rows[0].model
    assert data["win_rate"][0][0] is None
    assert data["counts"] == board.counts.tolist()


def test_leaderboard_without_bootstrap_ranks_by_rating() -> None:
    board = leaderboard(HAND_MADE, rounds=0)
    assert all(row.ci_low is None and row.ci_high is None for row in board.rows)
    assert [row.rank for row in board.rows] == [1, 2, 3, 4]
    json.dumps(board.to_dict(), allow_nan=False)


def test_empty_leaderboard() -> None:
    for board in (leaderboard([]), leaderboard(HAND_MADE, category="nothing-like-this")):
        assert board.rows == [] and board.models == ()
        assert board.total_battles == 0
        assert json.loads(json.dumps(board.to_dict(), allow_nan=False))["rows"] == []


def test_leaderboard_filters() -> None:
    human = battles_of(("x", "y", "a", 5), source="human", category="coding", timestamp=T0)
    day_1, day_2 = T0 + timedelta(days=1), T0 + timedelta(days=2)
    judged = battles_of(("x", "y", "b", 6), source="judge", judge_model="judge-1", category="writing", timestamp=day_1)
    other_judge = battles_of(("y", "z", "a", 2), source="judge", judge_model="judge-2", timestamp=day_2)
    undated = battles_of(("x", "z", "tie", 1), source="human")
    battles = human + judged + other_judge + undated

    def leader(**filters: object) -> tuple[str, int]:
        board = leaderboard(battles, rounds=0, **filters)  # type: ignore[arg-type]
        return board.rows[0].model, board.total_battles

    assert leader() == ("y", 14)
    assert leader(source="human") == ("x", 6)
    assert leader(source="judge") == ("y", 8)
    assert leader(judge_model="judge-1") == ("y", 6)
    assert leader(category="coding") == ("x", 5)
    # since is inclusive, until exclusive, and undated battles drop out of any time window.
    assert leader(since=day_1) == ("y", 8)
    assert leader(until=day_1) == ("x", 5)
    assert leader(since=T0, until=day_2) == ("y", 11)
    assert len(filter_battles(battles, source="judge", judge_model="judge-2")) == 2
