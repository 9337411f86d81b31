"""The fit from pair totals: a pair counted n times is n battles, down to the bootstrap's intervals."""

from __future__ import annotations

import numpy as np
import pytest

from arena.errors import InvalidInput
from arena.evaluation.ratings.fit import leaderboard, leaderboard_of_counts
from arena.evaluation.ratings.pairs import OUTCOMES, Battle, counts_from_arrays

MODELS = ["alpha", "beta", "gamma", "delta"]


def test_weighted_totals_give_the_leaderboard_of_the_battles_they_count() -> None:
    rng = np.random.default_rng(3)
    first = rng.integers(0, 4, 300)
    second = (first + rng.integers(1, 4, 300)) % 4
    outcome = rng.choice(4, 300, p=[0.45, 0.3, 0.15, 0.1])
    battles = [
        Battle(model_a=MODELS[a], model_b=MODELS[b], outcome=OUTCOMES[o])  # type: ignore[arg-type]
        for a, b, o in zip(first, second, outcome, strict=True)
    ]
    cells, weights = np.unique(np.stack([first, second, outcome]), axis=1, return_counts=True)
    order = np.argsort([MODELS[i] for i in range(4)])  # the totals name models by their sorted index
    rank = np.empty(4, dtype=np.intp)
    rank[order] = np.arange(4)
    counts = counts_from_arrays(
        models=sorted(MODELS), model_a=rank[cells[0]], model_b=rank[cells[1]], outcome=cells[2], weights=weights
    )

    assert len(weights) < 60 < len(battles), "far fewer totals than battles"
    assert (
        leaderboard_of_counts(counts, rounds=200, seed=4).to_dict()
        == leaderboard(battles, rounds=200, seed=4).to_dict()
    )


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(InvalidInput, match="weights"):
        counts_from_arrays(
            models=MODELS[:2],
            model_a=np.array([0]),
            model_b=np.array([1]),
            outcome=np.array([0]),
            weights=np.array([-1]),
        )
