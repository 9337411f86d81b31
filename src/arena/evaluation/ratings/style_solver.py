"""Bradley–Terry with covariates, by damped Newton, for one fit or a batch of bootstrap rounds.

The model (``style`` describes the covariates): P(a beats b) = expit(theta_a - theta_b + f . beta),
f the battle's style covariates. Unlike plain Bradley–Terry (``solver``), battles cannot be
merged into pair counts, since each has its own f; instead a bootstrap round is a weight per
battle (how often the round drew it), so all rounds share one layout. The Hessian J' diag(c) J,
J = [±1 for the two models | f], is built block by block: the model x model block from per-pair
sums (sparse), the model x covariate block with one sparse product per covariate, and the small
covariate block with one dense product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from arena.errors import InvalidInput
from arena.evaluation.ratings.solver import line_search

_STEP_TOLERANCE = 1e-5  # natural-log units, as in ``solver``
_MAX_NEWTON_STEPS = 100


@dataclass(frozen=True, kw_only=True, eq=False)
class CovariateFit:
    """Battles as arrays: model indices, the first side's score (1, 0, or 0.5 for a draw) and covariates."""

    size: int  # number of models
    first: np.ndarray  # (battles,)
    second: np.ndarray
    score: np.ndarray
    covariates: np.ndarray  # (battles, K)

    def fit(self, *, weights: np.ndarray, start: np.ndarray, l2: float) -> np.ndarray:
        """Penalised maximum likelihood for a batch of rounds: ``weights`` (rounds, battles) →
        (rounds, models + K), the models' strengths then the covariates' coefficients."""
        if l2 <= 0:
            raise InvalidInput("l2 must be positive: it keeps undefeated models finite")
        size, battles, k = self.size, self.first.size, self.covariates.shape[1]
        x = np.array(start, dtype=float)
        if battles == 0:
            return x * 0.0
        rows = np.arange(battles)
        # ±1 per battle for its two models; each battle's pair as one index for the pair block.
        signs = sparse.csr_matrix(
            (np.r_[np.ones(battles), -np.ones(battles)], (np.r_[rows, rows], np.r_[self.first, self.second])),
            shape=(battles, size),
        )
        pair_ids, pair_of = np.unique(
            np.minimum(self.first, self.second) * size + np.maximum(self.first, self.second), return_inverse=True
        )
        by_pair = sparse.csr_matrix((np.ones(battles), (rows, pair_of)), shape=(battles, pair_ids.size))
        low, high = pair_ids // size, pair_ids % size
        products = (self.covariates[:, :, None] * self.covariates[:, None, :]).reshape(battles, k * k)
        f = self.covariates

        def evaluate(values: np.ndarray, used: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """The penalised -log L of each round, and P(first side wins) per battle."""
            eta = np.take(values, self.first, axis=1) - np.take(values, self.second, axis=1) + values[:, size:] @ f.T
            # One exponential serves both log(1 + e^eta) and expit(eta), stably for any sign.
            small = np.exp(-np.abs(eta))
            softplus = np.maximum(eta, 0.0) + np.log1p(small)
            chance = np.where(eta >= 0, 1.0, small) / (1.0 + small)
            loss = (weights[used] * (softplus - self.score * eta)).sum(axis=1)
            return loss + 0.5 * l2 * (values * values).sum(axis=1), chance

        active = np.arange(x.shape[0])
        current, chance = evaluate(x, active)
        for _ in range(_MAX_NEWTON_STEPS):
            values = x[active]
            w = weights[active]
            residual = w * (chance - self.score)
            gradient = np.concatenate([(signs.T @ residual.T).T, residual @ f], axis=1) + l2 * values
            curvature = w * chance * (1.0 - chance)
            hessian = np.zeros((active.size, size + k, size + k))
            per_pair = (by_pair.T @ curvature.T).T
            hessian[:, low, high] = -per_pair
            hessian[:, high, low] = -per_pair
            models = np.arange(size)
            hessian[:, models, models] = -hessian[:, :size, :size].sum(axis=2)
            for column in range(k):
                cross = (signs.T @ (curvature * f[:, column]).T).T
                hessian[:, :size, size + column] = cross
                hessian[:, size + column, :size] = cross
            hessian[:, size:, size:] = (curvature @ products).reshape(-1, k, k)
            diagonal = np.arange(size + k)
            hessian[:, diagonal, diagonal] += l2
            step = -np.linalg.solve(hessian, gradient[:, :, None])[:, :, 0]

            candidate, after, chance = line_search(values, step, gradient, current[active], active, evaluate)
            x[active] = candidate
            current[active] = after
            moving = np.abs(step).max(axis=1) >= _STEP_TOLERANCE
            active, chance = active[moving], chance[moving]
            if active.size == 0:
                break
        return x
