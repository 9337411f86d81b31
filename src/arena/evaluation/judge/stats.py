"""How far each judge model can be trusted: the MT-bench paper's numbers, from stored verdicts.

Pure numbers; the verdicts come from storage (``storage/judge_verdicts``) or a bench run's rows.
Every pairwise verdict was asked twice, once in each order (``judge.task``):

    consistency           share of pairs whose two orders agree (A then B, B then A, or tie twice)
    first position        share of single verdicts (two per pair) that chose the answer shown first:
                          near 50% for a judge without position bias that rarely ties
    always first          share of pairs where the judge chose the first-shown answer in both orders
    tie rate              share of single verdicts that said tie
    agreement with humans for every human pairwise vote on the same pair of answers: the share
                          where judge and human name the same winner, with ties (a flip counts as
                          the tie it is recorded as; "both bad" is a tie), and without ties (only
                          where neither said tie), with Cohen's κ for each (agreement beyond chance)

A judge is *unreliable* when it is inconsistent on most of at least ``MIN_PAIRS`` pairs: its
verdicts then become ties and its ratings read "1000 – 1000" whatever the answers say.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from arena.evaluation.judge.task import combine_orders

Verdict = Literal["A", "B", "tie"]
# A human vote in the frame of the verdict's key_a / key_b: a (key_a better), b, tie, both_bad.
HumanVote = Literal["a", "b", "tie", "both_bad"]

MIN_PAIRS: Final = 5  # fewer pairs say too little to flag a judge
UNRELIABLE_BELOW: Final = 0.5  # consistent on fewer than half its pairs
ADVICE: Final = (
    "its verdicts flip when the answers swap places, so most become ties: use a bigger judge model, "
    "and read only the pairs it judged the same in both orders"
)


@dataclass(frozen=True, kw_only=True)
class JudgedPair:
    """One pair judged in both orders; ``humans`` are the human votes on the same two answers."""

    judge_model: str
    verdict_ab: Verdict  # key_a shown first
    verdict_ba: Verdict  # key_b shown first
    humans: tuple[HumanVote, ...] = ()


@dataclass(frozen=True, kw_only=True)
class HumanAgreement:
    compared: int  # (verdict, vote) pairs
    agreement: float | None  # with ties
    kappa: float | None
    compared_without_ties: int
    agreement_without_ties: float | None
    kappa_without_ties: float | None


@dataclass(frozen=True, kw_only=True)
class JudgeStats:
    judge_model: str
    pairs: int
    consistency: float
    first_position: float
    always_first: float
    tie_rate: float
    humans: HumanAgreement
    unreliable: bool
    advice: str | None = field(default=None)


def judge_stats(pairs: Iterable[JudgedPair]) -> list[JudgeStats]:
    """One line per judge model, by name."""
    by_judge: dict[str, list[JudgedPair]] = defaultdict(list)
    for pair in pairs:
        by_judge[pair.judge_model].append(pair)
    return [_one(name, by_judge[name]) for name in sorted(by_judge)]


def _one(name: str, pairs: list[JudgedPair]) -> JudgeStats:
    n = len(pairs)
    verdicts = [v for pair in pairs for v in (pair.verdict_ab, pair.verdict_ba)]
    consistent = sum(1 for pair in pairs if combine_orders(pair.verdict_ab, pair.verdict_ba)[1])
    consistency = consistent / n
    unreliable = n >= MIN_PAIRS and consistency < UNRELIABLE_BELOW
    return JudgeStats(
        judge_model=name,
        pairs=n,
        consistency=consistency,
        first_position=verdicts.count("A") / len(verdicts),
        always_first=sum(1 for pair in pairs if pair.verdict_ab == pair.verdict_ba == "A") / n,
        tie_rate=verdicts.count("tie") / len(verdicts),
        humans=human_agreement(pairs),
        unreliable=unreliable,
        advice=f"{name} was inconsistent on {n - consistent} of {n} pairs: {ADVICE}." if unreliable else None,
    )


def human_agreement(pairs: Iterable[JudgedPair]) -> HumanAgreement:
    """Judge against human on every (verdict, vote) about the same pair of answers."""
    rated: list[tuple[str, str]] = []
    for pair in pairs:
        judge = combine_orders(pair.verdict_ab, pair.verdict_ba)[0]  # a flip is a tie
        rated += [(judge, "tie" if vote == "both_bad" else vote) for vote in pair.humans]
    decided = [(j, h) for j, h in rated if j != "tie" and h != "tie"]
    return HumanAgreement(
        compared=len(rated),
        agreement=_agreement(rated),
        kappa=cohen_kappa(rated),
        compared_without_ties=len(decided),
        agreement_without_ties=_agreement(decided),
        kappa_without_ties=cohen_kappa(decided),
    )


def _agreement(rated: Sequence[tuple[str, str]]) -> float | None:
    return sum(1 for j, h in rated if j == h) / len(rated) if rated else None


def cohen_kappa(rated: Sequence[tuple[str, str]]) -> float | None:
    """(observed − chance agreement) / (1 − chance), chance from each rater's own label shares;
    None when there is nothing to compare or chance agreement is already certain (one label only)."""
    if not rated:
        return None
    n = len(rated)
    observed = sum(1 for j, h in rated if j == h) / n
    first, second = Counter(j for j, _ in rated), Counter(h for _, h in rated)
    chance = sum(first[label] * second[label] for label in first) / (n * n)
    if chance >= 1:
        return None
    return (observed - chance) / (1 - chance)
