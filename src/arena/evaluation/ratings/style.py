"""Style control: Bradley–Terry ratings with the answers' style held equal, as Chatbot Arena does.

A judge or a voter may prefer the longer answer, or the one with more headers, lists and bold,
whatever it says. Style control adds covariates to the model:

    P(a beats b) = expit(theta_a - theta_b + sum_k beta_k * f_k)

with f_k, for length, headers, list items and bold spans (``style_features``), the normalised
difference (x_a - x_b) / (x_a + x_b + 1), scaled by its root mean square over the battles. The
thetas are then the models' strengths with style held equal, and each beta says how much one
RMS unit of that difference moves the odds (natural-log odds, Chatbot Arena's convention).
Unlike Chatbot Arena the covariates are not centred: swapping a battle's two sides then simply
flips the sign of its row, so the side a model was shown on never matters.

Battles whose answers' styles are unknown are left out (the caller reports how many). The
bootstrap resamples battles (a multinomial weight per battle) and refits each round; every
round of a batch steps at once (``style_solver``), starting from the full-data fit.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from arena.errors import InvalidInput
from arena.evaluation.ratings.fit import DEFAULT_L2, Leaderboard, board_from, bradley_terry
from arena.evaluation.ratings.pairs import OUTCOME_CODES, Battle, aggregate
from arena.evaluation.ratings.solver import to_ratings
from arena.evaluation.ratings.style_features import STYLE_NAMES
from arena.evaluation.ratings.style_solver import CovariateFit

# Bootstrap rounds are fitted in batches of about this many (round, battle) weights.
_BATCH_ELEMENTS = 1_000_000
# The leaderboard page polls every few seconds with the same question, and a style-controlled
# bootstrap costs seconds: the last few results are kept, keyed by their exact inputs.
_MEMO_SIZE = 8
# Rounds x battles refitted by one request: about a minute on one loaded core. Past it a request is
# refused with the number of rounds it may ask for, rather than hold a worker for many minutes.
MAX_BOOTSTRAP_WORK = 20_000_000
# Style control derives every battle with its two answers on read (~75 s at a million): past this
# many a view is refused and asked to narrow, before any of that work.
MAX_STYLE_BATTLES = 100_000
_memo_lock = threading.Lock()
_memo: OrderedDict[str, StyleControlled] = OrderedDict()


@dataclass(frozen=True, kw_only=True)
class StyleCoefficient:
    name: str  # one of STYLE_NAMES
    value: float | None  # natural-log odds per RMS unit of the normalised difference
    ci_low: float | None
    ci_high: float | None
    # Why it cannot be estimated (value and interval then None): no battle's two answers differed
    # in it, so the data say nothing, and a "+0.000" would read as "no effect".
    not_estimable: str | None = None


NOT_ESTIMABLE: Final = "no battle's two answers differed in it, so its effect cannot be estimated"


@dataclass(frozen=True, kw_only=True, eq=False)
class StyleControlled:
    """A style-controlled leaderboard, the coefficients, and the raw fit of the same battles."""

    board: Leaderboard
    coefficients: list[StyleCoefficient]
    raw_ratings: dict[str, float]  # plain Bradley–Terry over the same battles, for side by side
    battles_without_style: int  # battles left out: an answer's style was unknown


def covariates(style_a: np.ndarray, style_b: np.ndarray) -> np.ndarray:
    """(battles, K) normalised style differences, each column scaled by its root mean square."""
    a = np.asarray(style_a, dtype=float)
    b = np.asarray(style_b, dtype=float)
    difference = (a - b) / (a + b + 1.0)
    rms = np.sqrt((difference * difference).mean(axis=0)) if difference.shape[0] else np.ones(a.shape[1])
    return difference / np.where(rms > 0, rms, 1.0)


def style_fit(
    battles: Sequence[Battle], *, both_bad_as_tie: bool = True
) -> tuple[tuple[str, ...], CovariateFit, list[Battle]]:
    """The battles with both styles known, as arrays over their models (sorted by name)."""
    kept = [
        b
        for b in battles
        if b.style_a is not None and b.style_b is not None and (both_bad_as_tie or b.outcome != "both_bad")
    ]
    models = tuple(sorted({b.model_a for b in kept} | {b.model_b for b in kept}))
    index = {model: position for position, model in enumerate(models)}
    points = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}
    fit = CovariateFit(
        size=len(models),
        first=np.fromiter((index[b.model_a] for b in kept), dtype=np.intp, count=len(kept)),
        second=np.fromiter((index[b.model_b] for b in kept), dtype=np.intp, count=len(kept)),
        score=np.fromiter((points[b.outcome] for b in kept), dtype=float, count=len(kept)),
        covariates=covariates(
            np.array([b.style_a.as_tuple() for b in kept], dtype=float).reshape(-1, len(STYLE_NAMES)),  # type: ignore[union-attr]
            np.array([b.style_b.as_tuple() for b in kept], dtype=float).reshape(-1, len(STYLE_NAMES)),  # type: ignore[union-attr]
        ),
    )
    return models, fit, kept


def check_style_work(battles: int, rounds: int) -> None:
    """Refuse a style-controlled view of ``battles`` battles (the cheap stored count) that would
    take minutes: too many battles, or too many bootstrap rounds for them."""
    if battles > MAX_STYLE_BATTLES:
        raise InvalidInput(
            f"style control reads every battle's two answers: it takes at most {MAX_STYLE_BATTLES:,} battles and "
            f"this view has {battles:,}; narrow it with a date range, a source, a judge or a category"
        )
    if battles and rounds * battles > MAX_BOOTSTRAP_WORK:
        raise InvalidInput(
            f"style control over {battles:,} battles allows at most {MAX_BOOTSTRAP_WORK // battles} bootstrap "
            f"rounds (rounds x battles <= {MAX_BOOTSTRAP_WORK:,}); ask for fewer, rounds=0 for no intervals, or "
            "narrow the view with filters"
        )


def style_controlled(
    battles: Sequence[Battle],
    *,
    rounds: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    scale: float = 400.0,
    base: float = 10.0,
    mean: float = 1000.0,
    both_bad_as_tie: bool = True,
    l2: float = DEFAULT_L2,
) -> StyleControlled:
    """Style-controlled ratings with bootstrap intervals (none when ``rounds=0``), best first."""
    if rounds < 0:
        raise InvalidInput("rounds cannot be negative")
    if not 0.0 < level < 1.0:
        raise InvalidInput("the confidence level must lie between 0 and 1")
    models, problem, kept = style_fit(battles, both_bad_as_tie=both_bad_as_tie)
    if rounds * len(kept) > MAX_BOOTSTRAP_WORK:
        raise InvalidInput(
            f"style control over {len(kept):,} battles allows at most {MAX_BOOTSTRAP_WORK // len(kept)} bootstrap "
            f"rounds (rounds x battles <= {MAX_BOOTSTRAP_WORK:,}); ask for fewer, or rounds=0 for no intervals"
        )
    missing = sum(1 for b in battles if b.style_a is None or b.style_b is None)
    outcomes = "".join(str(OUTCOME_CODES[b.outcome]) for b in kept)  # the board tells ties from both-bad
    key = _fingerprint(models, problem, outcomes, missing, rounds, seed, level, scale, base, mean, both_bad_as_tie, l2)
    with _memo_lock:
        if key in _memo:
            _memo.move_to_end(key)
            return _memo[key]
    result = _style_controlled(
        missing, models, problem, kept, rounds=rounds, seed=seed, level=level, scale=scale, base=base, mean=mean,
        both_bad_as_tie=both_bad_as_tie, l2=l2,
    )  # fmt: skip
    with _memo_lock:
        _memo[key] = result
        while len(_memo) > _MEMO_SIZE:
            _memo.popitem(last=False)
    return result


def _style_controlled(
    missing: int,
    models: tuple[str, ...],
    problem: CovariateFit,
    kept: list[Battle],
    *,
    rounds: int,
    seed: int,
    level: float,
    scale: float,
    base: float,
    mean: float,
    both_bad_as_tie: bool,
    l2: float,
) -> StyleControlled:
    size = len(models)
    start = np.zeros((1, size + len(STYLE_NAMES)))
    point = problem.fit(weights=np.ones((1, problem.first.size)), start=start, l2=l2)[0]
    ratings = to_ratings(point[:size], scale=scale, base=base, mean=mean)
    nan = np.full(size + len(STYLE_NAMES), np.nan)
    low, high = nan, nan
    if rounds and kept:
        samples = _bootstrap(problem, point=point, rounds=rounds, seed=seed, l2=l2)
        samples = np.concatenate(
            [to_ratings(samples[:, :size], scale=scale, base=base, mean=mean), samples[:, size:]], axis=1
        )
        tail = 50.0 * (1.0 - level)
        low, high = np.percentile(samples, [tail, 100.0 - tail], axis=0)
    counts = aggregate(kept)
    assert counts.models == models
    board = board_from(
        counts,
        ratings=ratings,
        ci_low=low[:size],
        ci_high=high[:size],
        rounds=rounds,
        seed=seed,
        both_bad_as_tie=both_bad_as_tie,
    )
    raw = bradley_terry(counts, scale=scale, base=base, mean=mean, both_bad_as_tie=both_bad_as_tie, l2=l2)
    return StyleControlled(
        board=board,
        coefficients=[
            StyleCoefficient(
                name=name, value=float(point[size + k]), ci_low=_number(low[size + k]), ci_high=_number(high[size + k])
            )
            if problem.covariates[:, k].any()
            else StyleCoefficient(name=name, value=None, ci_low=None, ci_high=None, not_estimable=NOT_ESTIMABLE)
            for k, name in enumerate(STYLE_NAMES)
        ],
        raw_ratings=dict(zip(models, (float(value) for value in raw), strict=True)),
        battles_without_style=missing,
    )


def _bootstrap(problem: CovariateFit, *, point: np.ndarray, rounds: int, seed: int, l2: float) -> np.ndarray:
    """(rounds, models + K): each round refits a resample of the battles, drawn with replacement."""
    battles = problem.first.size
    rng = np.random.default_rng(seed)
    batch = max(1, _BATCH_ELEMENTS // battles)
    samples = np.empty((rounds, point.size))
    for start in range(0, rounds, batch):
        stop = min(rounds, start + batch)
        weights = rng.multinomial(battles, np.full(battles, 1.0 / battles), size=stop - start).astype(float)
        samples[start:stop] = problem.fit(
            weights=weights, start=np.broadcast_to(point, (stop - start, point.size)), l2=l2
        )
    return samples


def _fingerprint(models: tuple[str, ...], problem: CovariateFit, *settings: object) -> str:
    """A digest of everything a result depends on: the battles as fitted, and the settings."""
    digest = hashlib.sha256(repr((models, settings)).encode())
    for array in (problem.first, problem.second, problem.score, problem.covariates):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
