"""Ratings from pairwise battles: online Elo, and Bradley–Terry with bootstrap confidence intervals.

Pure numpy/scipy on arrays; the caller loads battles from storage and passes them in.

Battles and their counts per pair come from ``pairs``. A both-bad battle scores as a tie (half
a win to each side), because neither answer beat the other; ``both_bad_as_tie=False`` leaves
those battles out of the ratings instead.

Bradley–Terry (solved in ``solver``): P(i beats j) = 1 / (1 + base ** ((R_j - R_i) / scale)).
With theta = R * ln(base) / scale this is the logistic model P = expit(theta_i - theta_j).
The fit maximises the likelihood of the aggregated pair counts, each tie adding half a win to
both sides, plus a tiny L2 penalty ``l2 / 2 * ||theta||^2`` (a Gaussian prior thousands of rating points wide):
once models have a few dozen battles it moves their ratings by a fraction of a point, yet it
keeps an undefeated model, or a group of models never compared with the rest, at a finite and
unique rating. The problem is convex with one parameter per model, so it is solved by Newton's
method with a backtracking line search: each step is one M x M solve, and a handful of steps
converge (quadratically) to well under 0.01 rating points.

The bootstrap resamples the aggregated counts (multinomial, total number of battles fixed) and
refits every round; the rounds are stacked into one batch so each Newton step handles all of
them in a few array operations and one batched solve, starting from the full-data fit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np

from arena.errors import InvalidInput
from arena.evaluation.ratings.pairs import Battle, PairCounts, Source, aggregate
from arena.evaluation.ratings.solver import PairFit, to_ratings

DEFAULT_L2 = 1e-3
# Bootstrap rounds are fitted in batches of about this many array elements, so memory stays
# bounded (tens of MB) however many models and rounds there are.
_BATCH_ELEMENTS = 4_000_000


@dataclass(frozen=True, kw_only=True, eq=False)
class BootstrapResult:
    ratings: np.ndarray  # the full-data Bradley–Terry fit, one per model
    samples: np.ndarray  # (rounds, models): the refit ratings of every round
    ci_low: np.ndarray
    ci_high: np.ndarray


@dataclass(frozen=True, kw_only=True)
class LeaderboardRow:
    model: str
    rating: float
    ci_low: float | None  # None when the leaderboard was computed without a bootstrap
    ci_high: float | None
    rank: int
    battles: int
    wins: int
    losses: int
    ties: int
    both_bad: int


@dataclass(frozen=True, kw_only=True, eq=False)
class Leaderboard:
    rows: list[LeaderboardRow]  # best rating first
    models: tuple[str, ...]  # the rows' models in the same order: the index of both matrices
    win_rate: np.ndarray  # win_rate[i, j]: share of i's battles against j that i won, ties as half; NaN if none
    counts: np.ndarray  # counts[i, j]: battles between models i and j
    rounds: int
    seed: int

    @property
    def total_battles(self) -> int:
        return int(self.counts.sum() // 2)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data: NaN becomes None."""
        return {
            "rows": [asdict(row) for row in self.rows],
            "models": list(self.models),
            "win_rate": [[None if math.isnan(value) else float(value) for value in line] for line in self.win_rate],
            "counts": self.counts.astype(int).tolist(),
            "total_battles": self.total_battles,
            "rounds": self.rounds,
            "seed": self.seed,
        }


def online_elo(
    battles: Iterable[Battle],
    *,
    k: float = 4.0,
    scale: float = 400.0,
    base: float = 10.0,
    initial: float = 1000.0,
    both_bad_as_tie: bool = True,
) -> dict[str, float]:
    """Classic Elo, updated battle by battle in the order given (so order matters)."""
    sequence = ((battle.model_a, battle.model_b, battle.outcome) for battle in battles)
    return elo_of_sequence(sequence, k=k, scale=scale, base=base, initial=initial, both_bad_as_tie=both_bad_as_tie)


def elo_of_sequence(
    battles: Iterable[tuple[str, str, str]],
    *,
    k: float = 4.0,
    scale: float = 400.0,
    base: float = 10.0,
    initial: float = 1000.0,
    both_bad_as_tie: bool = True,
    start: dict[str, float] | None = None,
) -> dict[str, float]:
    """``online_elo`` over (side A, side B, outcome) tuples, as the stored battles are read;
    ``start``: the ratings after the battles before these (not changed)."""
    ratings: dict[str, float] = dict(start or {})
    scores = {"a": 1.0, "b": 0.0}
    for model_a, model_b, outcome in battles:
        rating_a = ratings.setdefault(model_a, initial)
        rating_b = ratings.setdefault(model_b, initial)
        if outcome == "both_bad" and not both_bad_as_tie:
            continue
        expected_a = 1.0 / (1.0 + base ** ((rating_b - rating_a) / scale))
        change = k * (scores.get(outcome, 0.5) - expected_a)
        ratings[model_a] = rating_a + change
        ratings[model_b] = rating_b - change
    return dict(sorted(ratings.items()))


def bradley_terry(
    counts: PairCounts,
    *,
    scale: float = 400.0,
    base: float = 10.0,
    mean: float = 1000.0,
    both_bad_as_tie: bool = True,
    l2: float = DEFAULT_L2,
) -> np.ndarray:
    """Maximum-likelihood Bradley–Terry ratings, one per ``counts.models``, averaging ``mean``."""
    pairs = PairFit.from_counts(counts, both_bad_as_tie=both_bad_as_tie)
    return to_ratings(pairs.fit_observed(l2=l2), scale=scale, base=base, mean=mean)


def bootstrap(
    counts: PairCounts,
    *,
    rounds: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    scale: float = 400.0,
    base: float = 10.0,
    mean: float = 1000.0,
    both_bad_as_tie: bool = True,
    l2: float = DEFAULT_L2,
) -> BootstrapResult:
    """Bradley–Terry ratings with percentile confidence intervals from ``rounds`` resamples.

    Each round draws as many battles as there are, with replacement, from the observed pair
    outcomes (a multinomial over the count cells) and refits; the same seed gives the same result.
    """
    if rounds < 1:
        raise InvalidInput("the bootstrap needs at least one round")
    if not 0.0 < level < 1.0:
        raise InvalidInput("the confidence level must lie between 0 and 1")
    pairs = PairFit.from_counts(counts, both_bad_as_tie=both_bad_as_tie)
    point = pairs.fit_observed(l2=l2)

    # Cells are (pair, first won / second won / drew). Merging the a/b positions and the tie
    # kinds before drawing is exact: a multinomial's merged cells are the sums of its cells.
    cells = np.stack([pairs.wins_first, pairs.wins_second, pairs.draws], axis=1).ravel()
    occupied = np.flatnonzero(cells)
    total = int(cells.sum())
    rng = np.random.default_rng(seed)
    batch = max(1, _BATCH_ELEMENTS // max(pairs.first.size * 3, pairs.size * pairs.size, 1))
    samples = np.empty((rounds, pairs.size))
    for start in range(0, rounds, batch):
        stop = min(rounds, start + batch)
        drawn = np.zeros((stop - start, cells.size))
        if total:
            drawn[:, occupied] = rng.multinomial(total, cells[occupied] / total, size=stop - start)
        drawn = drawn.reshape(stop - start, -1, 3)
        samples[start:stop] = pairs.fit(
            score_first=drawn[:, :, 0] + 0.5 * drawn[:, :, 2],
            score_second=drawn[:, :, 1] + 0.5 * drawn[:, :, 2],
            start=np.broadcast_to(point, (stop - start, pairs.size)),
            l2=l2,
        )
    ratings = to_ratings(point, scale=scale, base=base, mean=mean)
    samples = to_ratings(samples, scale=scale, base=base, mean=mean)
    tail = 50.0 * (1.0 - level)
    ci_low, ci_high = np.percentile(samples, [tail, 100.0 - tail], axis=0)
    return BootstrapResult(ratings=ratings, samples=samples, ci_low=ci_low, ci_high=ci_high)


def rank_by_upper_bound(*, ci_low: np.ndarray, ci_high: np.ndarray) -> np.ndarray:
    """Rank = 1 + the number of models whose lower bound lies above this model's upper bound.

    Models whose intervals overlap share a rank, so a rank is only ever claimed with confidence.
    """
    low = np.asarray(ci_low, dtype=float)
    high = np.asarray(ci_high, dtype=float)
    return 1 + (low[None, :] > high[:, None]).sum(axis=1)


def win_rate_matrix(counts: PairCounts, *, both_bad_as_tie: bool = True) -> np.ndarray:
    """win_rate[i, j]: share of battles between i and j that i won, ties as half; NaN if none."""
    draws = counts.draws(both_bad_as_tie=both_bad_as_tie)
    played = counts.wins + counts.wins.T + draws
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = (counts.wins + 0.5 * draws) / played
    return np.where(played > 0, rate, np.nan)


def battle_count_matrix(counts: PairCounts) -> np.ndarray:
    """counts[i, j]: every battle between models i and j, both-bad included."""
    return counts.battles


def filter_battles(
    battles: Iterable[Battle],
    *,
    source: Source | None = None,
    judge_model: str | None = None,
    category: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Battle]:
    """Battles matching every filter given; time runs ``since <= timestamp < until``.

    A battle without a timestamp is left out whenever a time bound is given: it cannot be
    placed inside the window.
    """
    selected = []
    for battle in battles:
        if source is not None and battle.source != source:
            continue
        if judge_model is not None and battle.judge_model != judge_model:
            continue
        if category is not None and battle.category != category:
            continue
        if since is not None or until is not None:
            if battle.timestamp is None:
                continue
            if since is not None and battle.timestamp < since:
                continue
            if until is not None and battle.timestamp >= until:
                continue
        selected.append(battle)
    return selected


def leaderboard(
    battles: Iterable[Battle],
    *,
    rounds: int = 1000,
    seed: int = 0,
    source: Source | None = None,
    judge_model: str | None = None,
    category: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    both_bad_as_tie: bool = True,
) -> Leaderboard:
    """Bradley–Terry leaderboard of the battles that pass the filters, best first.

    ``rounds=0`` skips the bootstrap: the intervals are None and ranks follow the ratings.
    """
    if rounds < 0:
        raise InvalidInput("rounds cannot be negative")
    selected = filter_battles(
        battles, source=source, judge_model=judge_model, category=category, since=since, until=until
    )
    return leaderboard_of_counts(aggregate(selected), rounds=rounds, seed=seed, both_bad_as_tie=both_bad_as_tie)


def leaderboard_of_counts(
    counts: PairCounts, *, rounds: int = 1000, seed: int = 0, both_bad_as_tie: bool = True
) -> Leaderboard:
    """The leaderboard of battles already counted per pair (``leaderboard`` counts them first)."""
    if rounds < 0:
        raise InvalidInput("rounds cannot be negative")
    if not counts.models:
        empty = np.zeros((0, 0))
        return Leaderboard(rows=[], models=(), win_rate=empty, counts=empty.astype(int), rounds=rounds, seed=seed)
    if rounds:
        result = bootstrap(counts, rounds=rounds, seed=seed, both_bad_as_tie=both_bad_as_tie)
        ratings, ci_low, ci_high = result.ratings, result.ci_low, result.ci_high
    else:
        ratings = bradley_terry(counts, both_bad_as_tie=both_bad_as_tie)
        ci_low = ci_high = np.full_like(ratings, np.nan)
    return board_from(
        counts, ratings=ratings, ci_low=ci_low, ci_high=ci_high, rounds=rounds, seed=seed, both_bad_as_tie=both_bad_as_tie
    )


def board_from(
    counts: PairCounts,
    *,
    ratings: np.ndarray,
    ci_low: np.ndarray,
    ci_high: np.ndarray,
    rounds: int,
    seed: int,
    both_bad_as_tie: bool = True,
) -> Leaderboard:
    """The leaderboard of ratings fitted to ``counts`` (intervals NaN without a bootstrap: ranks
    then follow the ratings), best first."""
    bootstrapped = not np.isnan(ci_low).all()
    ranks = rank_by_upper_bound(ci_low=ci_low if bootstrapped else ratings, ci_high=ci_high if bootstrapped else ratings)
    order = sorted(range(len(counts.models)), key=lambda index: (-ratings[index], counts.models[index]))
    rows = [
        LeaderboardRow(
            model=counts.models[index],
            rating=float(ratings[index]),
            ci_low=None if np.isnan(ci_low[index]) else float(ci_low[index]),
            ci_high=None if np.isnan(ci_high[index]) else float(ci_high[index]),
            rank=int(ranks[index]),
            battles=int(counts.battles[index].sum()),
            wins=int(counts.wins[index].sum()),
            losses=int(counts.wins[:, index].sum()),
            ties=int(counts.ties[index].sum()),
            both_bad=int(counts.both_bad[index].sum()),
        )
        for index in order
    ]
    reorder = np.ix_(order, order)
    return Leaderboard(
        rows=rows,
        models=tuple(counts.models[index] for index in order),
        win_rate=win_rate_matrix(counts, both_bad_as_tie=both_bad_as_tie)[reorder],
        counts=counts.battles[reorder],
        rounds=rounds,
        seed=seed,
    )
