"""Pairwise battles and their counts per pair of models: the input every rating is fitted to.

Outcomes are "a" (model_a won), "b" (model_b won), "tie" and "both_bad". Both-bad is counted
apart from ties wherever counts are shown; ``fit`` decides how it scores. Both ``fit`` (the
ratings) and ``solver`` (the Bradley–Terry solve) read `PairCounts`, so it lives here, below both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

import numpy as np

from arena.errors import InvalidInput
from arena.evaluation.ratings.style_features import StyleFeatures

Outcome = Literal["a", "b", "tie", "both_bad"]
Source = Literal["human", "judge"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
SOURCES: tuple[str, ...] = get_args(Source)
OUTCOME_CODES: dict[str, int] = {outcome: code for code, outcome in enumerate(OUTCOMES)}


@dataclass(frozen=True, kw_only=True, slots=True)
class Battle:
    """One pairwise comparison: which of two answers to the same prompt was better."""

    model_a: str
    model_b: str
    outcome: Outcome
    source: Source | None = None
    judge_model: str | None = None
    category: str | None = None
    timestamp: datetime | None = None
    # The two answers' styles, for style control; None where the answers are unknown.
    style_a: StyleFeatures | None = None
    style_b: StyleFeatures | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise InvalidInput(f"unknown battle outcome {self.outcome!r}: use one of {', '.join(OUTCOMES)}")
        if self.model_a == self.model_b:
            raise InvalidInput(f"a battle needs two different models, got {self.model_a!r} twice")
        if self.source is not None and self.source not in SOURCES:
            raise InvalidInput(f"unknown battle source {self.source!r}: use one of {', '.join(SOURCES)}")


@dataclass(frozen=True, kw_only=True, eq=False)
class PairCounts:
    """Battle counts per pair of models; row and column i stand for ``models[i]``."""

    models: tuple[str, ...]
    wins: np.ndarray  # wins[i, j]: battles model i won against model j (either side)
    ties: np.ndarray  # ties[i, j] == ties[j, i]: ties between models i and j
    both_bad: np.ndarray  # both_bad[i, j] == both_bad[j, i], kept apart from ties

    @property
    def battles(self) -> np.ndarray:
        """battles[i, j]: every battle between models i and j, both-bad included."""
        return self.wins + self.wins.T + self.ties + self.both_bad

    def draws(self, *, both_bad_as_tie: bool = True) -> np.ndarray:
        """Battles that score half a win to each side."""
        return self.ties + self.both_bad if both_bad_as_tie else self.ties.copy()


def counts_from_arrays(
    *,
    models: Sequence[str],
    model_a: np.ndarray,
    model_b: np.ndarray,
    outcome: np.ndarray,
    weights: np.ndarray | None = None,
) -> PairCounts:
    """Aggregate battles given as index arrays into ``models`` and codes into ``OUTCOMES``;
    ``weights`` counts each entry as that many battles (pair totals counted by the database)."""
    size = len(models)
    first = np.asarray(model_a, dtype=np.intp)
    second = np.asarray(model_b, dtype=np.intp)
    codes = np.asarray(outcome, dtype=np.intp)
    if not first.shape == second.shape == codes.shape or first.ndim != 1:
        raise InvalidInput("model_a, model_b and outcome must be 1-D arrays of one length")
    if first.size and (min(first.min(), second.min()) < 0 or max(first.max(), second.max()) >= size):
        raise InvalidInput("a model index is outside the model list")
    if first.size and (codes.min() < 0 or codes.max() >= len(OUTCOMES)):
        raise InvalidInput(f"an outcome code is outside 0..{len(OUTCOMES) - 1}")
    if np.any(first == second):
        raise InvalidInput("a battle needs two different models")
    times = np.ones(first.shape, dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64)
    if times.shape != first.shape or np.any(times < 0):
        raise InvalidInput("weights must be a count per battle entry")

    def pair_counts(rows: np.ndarray, columns: np.ndarray, chosen: np.ndarray) -> np.ndarray:
        found = np.bincount(rows * size + columns, weights=times[chosen], minlength=size * size)
        return found.round().astype(np.int64).reshape(size, size)

    a_won = codes == OUTCOME_CODES["a"]
    decisive = a_won | (codes == OUTCOME_CODES["b"])
    winner = np.where(a_won, first, second)[decisive]
    loser = np.where(a_won, second, first)[decisive]
    tie = codes == OUTCOME_CODES["tie"]
    both_bad = codes == OUTCOME_CODES["both_bad"]
    ties = pair_counts(first[tie], second[tie], tie)
    bad = pair_counts(first[both_bad], second[both_bad], both_bad)
    return PairCounts(
        models=tuple(models), wins=pair_counts(winner, loser, decisive), ties=ties + ties.T, both_bad=bad + bad.T
    )


def aggregate(battles: Iterable[Battle]) -> PairCounts:
    """Count wins, ties and both-bad per pair of models; models sorted by name."""
    battles = list(battles)
    models = sorted({battle.model_a for battle in battles} | {battle.model_b for battle in battles})
    index = {model: position for position, model in enumerate(models)}
    count = len(battles)
    return counts_from_arrays(
        models=models,
        model_a=np.fromiter((index[battle.model_a] for battle in battles), dtype=np.intp, count=count),
        model_b=np.fromiter((index[battle.model_b] for battle in battles), dtype=np.intp, count=count),
        outcome=np.fromiter((OUTCOME_CODES[battle.outcome] for battle in battles), dtype=np.intp, count=count),
    )
