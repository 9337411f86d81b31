"""Bradley–Terry maximum likelihood by damped Newton, for one fit or a batch of bootstrap rounds.

The model and its penalty are described in ``fit``; this module only solves it. Each
Newton step is one M x M solve per round, all rounds stepping at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from arena.errors import InvalidInput
from arena.evaluation.ratings.pairs import PairCounts

_STEP_TOLERANCE = 1e-5  # natural-log units (0.002 rating points); the error left is about its square
_MAX_NEWTON_STEPS = 100
_MAX_HALVINGS = 50
_ARMIJO = 1e-4


Evaluate = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def line_search(
    values: np.ndarray, step: np.ndarray, gradient: np.ndarray, before: np.ndarray, active: np.ndarray, evaluate: Evaluate
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backtracking (Armijo) line search along each round's Newton step, all rounds at once:
    the accepted points, their objective and what `evaluate` returned beside it. The relative
    slack absorbs rounding once a round sits at its optimum."""
    slope = (gradient * step).sum(axis=1)
    fraction = np.ones(active.size)
    candidate = values + step
    after, extra = evaluate(candidate, active)
    rejected = after > before + _ARMIJO * fraction * slope + 1e-12 * np.abs(before)
    for _ in range(_MAX_HALVINGS):
        if not rejected.any():
            break
        redo = np.flatnonzero(rejected)
        fraction[redo] *= 0.5
        candidate[redo] = values[redo] + fraction[redo, None] * step[redo]
        after[redo], extra[redo] = evaluate(candidate[redo], active[redo])
        slack = _ARMIJO * fraction[redo] * slope[redo] + 1e-12 * np.abs(before[redo])
        rejected[redo] = after[redo] > before[redo] + slack
    return candidate, after, extra


def to_ratings(theta: np.ndarray, *, scale: float, base: float, mean: float) -> np.ndarray:
    """From the natural-log scale to ratings: `scale` points per factor `base`, centred on `mean`."""
    centred = theta - theta.mean(axis=-1, keepdims=True) if theta.shape[-1] else theta
    return mean + centred * (scale / math.log(base))


@dataclass(frozen=True, kw_only=True, eq=False)
class PairFit:
    """The unordered pairs (first < second) that met at least once, with their outcomes."""

    size: int  # number of models
    first: np.ndarray
    second: np.ndarray
    wins_first: np.ndarray
    wins_second: np.ndarray
    draws: np.ndarray

    @classmethod
    def from_counts(cls, counts: PairCounts, *, both_bad_as_tie: bool) -> PairFit:
        first, second = np.triu_indices(len(counts.models), k=1)
        draws = counts.draws(both_bad_as_tie=both_bad_as_tie)[first, second]
        wins_first = counts.wins[first, second]
        wins_second = counts.wins[second, first]
        met = wins_first + wins_second + draws > 0
        return cls(
            size=len(counts.models),
            first=first[met],
            second=second[met],
            wins_first=wins_first[met].astype(float),
            wins_second=wins_second[met].astype(float),
            draws=draws[met].astype(float),
        )

    def fit_observed(self, *, l2: float) -> np.ndarray:
        """The fit to the counts as observed, natural-log scale; each draw is half a win to both."""
        return self.fit(
            score_first=(self.wins_first + 0.5 * self.draws)[None, :],
            score_second=(self.wins_second + 0.5 * self.draws)[None, :],
            start=np.zeros((1, self.size)),
            l2=l2,
        )[0]

    def fit(
        self, *, score_first: np.ndarray, score_second: np.ndarray, start: np.ndarray, l2: float
    ) -> np.ndarray:
        """Penalised maximum likelihood on the natural-log scale for a batch of rounds.

        ``score_first`` / ``score_second`` are (rounds, pairs) points scored by each side of a
        pair; returns (rounds, models). Damped Newton, every round stepping at once.
        """
        if l2 <= 0:
            raise InvalidInput("l2 must be positive: it keeps undefeated models finite")
        size = self.size
        played = score_first + score_second
        theta = np.array(start, dtype=float)
        if self.first.size == 0 or size == 0:
            return theta * 0.0
        pairs = self.first.size
        # Per-pair values are spread over M x M matrices by one gather (np.take) from
        # [0, +value per pair, -value per pair]: cheaper than scatter or an incidence matmul.
        symmetric = np.zeros(size * size, dtype=np.intp)
        symmetric[self.first * size + self.second] = 1 + np.arange(pairs)
        symmetric[self.second * size + self.first] = 1 + np.arange(pairs)
        antisymmetric = symmetric.copy()
        antisymmetric[self.second * size + self.first] += pairs
        diagonal = np.arange(size) * (size + 1)

        def spread(per_pair: np.ndarray, layout: np.ndarray) -> np.ndarray:
            source = np.concatenate([np.zeros((per_pair.shape[0], 1)), per_pair, -per_pair], axis=1)
            return np.take(source, layout, axis=1)

        def evaluate(values: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """The penalised -log L of each round, and P(first beats second) per pair."""
            gap = values[:, self.first] - values[:, self.second]
            chance = expit(gap)
            # log expit(gap) from chance; where chance underflows to 0, log expit(gap) ~= gap.
            log_chance = np.log(chance, out=gap.copy(), where=chance > 0)
            likelihood = (played[rows] * log_chance - score_second[rows] * gap).sum(axis=1)
            return 0.5 * l2 * (values * values).sum(axis=1) - likelihood, chance

        active = np.arange(theta.shape[0])
        current, chance = evaluate(theta, active)
        for _ in range(_MAX_NEWTON_STEPS):
            values = theta[active]
            played_now = played[active]
            residual = played_now * chance - score_first[active]
            gradient = spread(residual, antisymmetric).reshape(-1, size, size).sum(axis=2) + l2 * values
            # Hessian: -curvature off the diagonal, minus the row sums (plus l2) on it.
            hessian = spread(-played_now * chance * (1.0 - chance), symmetric)
            hessian[:, diagonal] = l2 - hessian.reshape(-1, size, size).sum(axis=2)
            hessian = hessian.reshape(-1, size, size)
            step = -np.linalg.solve(hessian, gradient[:, :, None])[:, :, 0]

            candidate, after, chance = line_search(values, step, gradient, current[active], active, evaluate)
            theta[active] = candidate
            current[active] = after
            # A full Newton step this small leaves an error of about its square.
            moving = np.abs(step).max(axis=1) >= _STEP_TOLERANCE
            active, chance = active[moving], chance[moving]
            if active.size == 0:
                break
        return theta
