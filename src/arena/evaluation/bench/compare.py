"""Paired per-prompt statistics of two contestants' judge verdicts: is A better than B on these
prompts, by how much, and how many prompts would it take to tell?

Every prompt gives one difference ``d`` in [-1, 1], positive when A did better:

    direct       A and B were judged against each other on the prompt: +1 A won, -1 B won,
                 0 a tie or both bad, averaged over the repeats;
    opponents    otherwise (a baseline run, or two runs): A's points minus B's on the prompt,
                 where a contestant's points are its mean over its verdicts (win 1, tie or
                 both bad 0.5, loss 0) against the opponents the other did not replace.

From the differences: the sign test (exact two-sided binomial on the prompts that were not
even, scipy's ``binomtest``), a paired bootstrap 95% interval of the mean difference (prompts
resampled with replacement), Cohen's d_z (mean / standard deviation of the differences), and
the prompts a two-sided test at the 5% level would need to find the difference 80% of the time
if the observed mean and spread held: n = ((1.96 + 0.84) · sd / |mean|)² (with 1.96 alone the
interval excludes 0 only about half the time: 50% power).

Pure: the rows go in, a ``Comparison`` comes out; ``compare_runs`` reads them from storage.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal, Protocol

import numpy as np
from scipy.stats import binomtest

Z_95: Final = 1.959963984540054
Z_80_POWER: Final = 0.8416212335729143  # the normal quantile at 0.80: power of the prompts_needed test
BOOTSTRAP_ROUNDS: Final = 2000
_POINTS: Final[dict[str, float]] = {"win": 1.0, "tie": 0.5, "both_bad": 0.5, "loss": 0.0}
Basis = Literal["direct", "opponents"]


class Verdict(Protocol):
    """What a stored bench judgment offers (``BenchJudgment`` rows, or their report dicts read alike)."""

    prompt_id: str
    repeat: int
    instance_a: str
    instance_b: str
    status: str
    outcome: str | None


@dataclass(frozen=True, kw_only=True)
class PromptDifference:
    prompt_id: str
    difference: float  # in [-1, 1]; positive: A did better on this prompt


@dataclass(frozen=True, kw_only=True)
class Comparison:
    a: str
    b: str
    basis: Basis
    prompts: int  # prompts with a difference
    better_a: int  # prompts where A did better
    better_b: int
    even: int
    sign_test_p: float | None  # None without a prompt that was not even
    mean_difference: float | None
    ci_low: float | None
    ci_high: float | None
    cohens_dz: float | None  # None when every difference is the same (no spread)
    prompts_needed: int | None  # to separate them with 80% power at the 5% level; None when the mean is 0
    more_prompts: int | None  # prompts_needed minus the prompts there are (0: already separated)
    separated: bool  # the interval excludes 0
    differences: list[PromptDifference]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sign_test(better_a: int, better_b: int) -> float | None:
    """Two-sided exact binomial test of "A and B are as likely to do better" (p = 1/2)."""
    trials = better_a + better_b
    if trials == 0:
        return None
    return float(binomtest(better_a, trials, 0.5, alternative="two-sided").pvalue)


def bootstrap_interval(
    differences: list[float], *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0
) -> tuple[float, float] | None:
    """Percentile 95% interval of the mean difference, resampling prompts with replacement."""
    if not differences:
        return None
    values = np.asarray(differences, dtype=float)
    picks = np.random.default_rng(seed).integers(0, len(values), size=(rounds, len(values)))
    means = values[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def cohens_dz(differences: list[float]) -> float | None:
    if len(differences) < 2:
        return None
    spread = statistics.stdev(differences)
    return None if spread == 0 else statistics.fmean(differences) / spread


def prompts_needed(differences: list[float]) -> int | None:
    """Prompts for a two-sided 5%-level test of the mean to find a difference of this size and
    spread 80% of the time (80% power): n = ((z_0.975 + z_0.80) · sd / |mean|)²."""
    if len(differences) < 2:
        return None
    mean, spread = statistics.fmean(differences), statistics.stdev(differences)
    if mean == 0:
        return None
    return max(2, math.ceil(((Z_95 + Z_80_POWER) * spread / abs(mean)) ** 2))


def compare(differences: list[PromptDifference], *, a: str, b: str, basis: Basis, seed: int = 0) -> Comparison:
    values = [d.difference for d in differences]
    better_a = sum(1 for v in values if v > 0)
    better_b = sum(1 for v in values if v < 0)
    interval = bootstrap_interval(values, seed=seed)
    needed = prompts_needed(values)
    separated = interval is not None and (interval[0] > 0 or interval[1] < 0)
    return Comparison(
        a=a,
        b=b,
        basis=basis,
        prompts=len(values),
        better_a=better_a,
        better_b=better_b,
        even=len(values) - better_a - better_b,
        sign_test_p=sign_test(better_a, better_b),
        mean_difference=statistics.fmean(values) if values else None,
        ci_low=interval[0] if interval else None,
        ci_high=interval[1] if interval else None,
        cohens_dz=cohens_dz(values),
        prompts_needed=needed,
        more_prompts=None if needed is None else (0 if separated else max(0, needed - len(values))),
        separated=separated,
        differences=differences,
    )


def _done(verdicts: Iterable[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if v.status == "done" and v.outcome]


def direct_differences(verdicts: Iterable[Verdict], *, a: str, b: str) -> list[PromptDifference]:
    """A against B on each prompt where the judge compared them: +1, 0 or -1, over the repeats."""
    per_prompt: dict[str, list[float]] = defaultdict(list)
    for verdict in _done(verdicts):
        if {verdict.instance_a, verdict.instance_b} != {a, b}:
            continue
        sign = 1.0 if verdict.instance_a == a else -1.0
        value = {"a": 1.0, "b": -1.0}.get(verdict.outcome or "", 0.0)
        per_prompt[verdict.prompt_id].append(sign * value)
    return [PromptDifference(prompt_id=p, difference=statistics.fmean(v)) for p, v in sorted(per_prompt.items())]


def points(verdicts: Iterable[Verdict], *, contestant: str, leave_out: set[str]) -> dict[str, float]:
    """prompt id -> the contestant's mean points against its opponents there (``leave_out`` not counted)."""
    per_prompt: dict[str, list[float]] = defaultdict(list)
    for verdict in _done(verdicts):
        if contestant not in (verdict.instance_a, verdict.instance_b):
            continue
        opponent = verdict.instance_b if verdict.instance_a == contestant else verdict.instance_a
        if opponent in leave_out:
            continue
        mine = "a" if verdict.instance_a == contestant else "b"
        result = "win" if verdict.outcome == mine else verdict.outcome if verdict.outcome in _POINTS else "loss"
        per_prompt[verdict.prompt_id].append(_POINTS[result])
    return {prompt: statistics.fmean(values) for prompt, values in per_prompt.items()}


def opponent_differences(
    verdicts_a: Iterable[Verdict], verdicts_b: Iterable[Verdict], *, a: str, b: str
) -> list[PromptDifference]:
    """A's points minus B's on every prompt both were judged on (each against its own opponents)."""
    mine = points(verdicts_a, contestant=a, leave_out={a, b})
    theirs = points(verdicts_b, contestant=b, leave_out={a, b})
    return [PromptDifference(prompt_id=p, difference=mine[p] - theirs[p]) for p in sorted(mine.keys() & theirs.keys())]
