"""The report's judges section: how far the run's judge can be trusted on this run's pairs
(position consistency, first-position rate, ties; ``judge.stats``) and a flagged judge's advice.
A benchmark has no human votes, so no agreement. (A board of nothing but ties says so in the
ratings: ``data``, with ``ratings.all_ties``.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypedDict, cast

from arena.evaluation.judge.stats import JudgedPair, Verdict, judge_stats
from arena.storage.bench_models import BenchJudgment


class JudgeReliabilityData(TypedDict):
    judge_model: str
    pairs: int  # judged in both orders
    consistency: float  # share of pairs whose two orders agree
    first_position: float  # share of single verdicts for the answer shown first
    always_first: float  # share of pairs the first-shown answer won in both orders
    tie_rate: float  # share of single verdicts that said tie
    unreliable: bool  # inconsistent on most of at least stats.MIN_PAIRS pairs
    advice: str | None


class JudgesSectionData(TypedDict):
    judges: list[JudgeReliabilityData]


def judges_section(judgments: Iterable[BenchJudgment]) -> JudgesSectionData | None:
    """None when nothing was judged in both orders (no judge, or rows from before verdicts were kept)."""
    pairs = []
    for row in judgments:
        detail = row.detail or {}
        if row.status == "done" and detail.get("verdict_ab") and detail.get("verdict_ba") and detail.get("judge_model"):
            pairs.append(
                JudgedPair(
                    judge_model=str(detail["judge_model"]),
                    verdict_ab=cast(Verdict, detail["verdict_ab"]),
                    verdict_ba=cast(Verdict, detail["verdict_ba"]),
                )
            )
    if not pairs:
        return None
    return {
        "judges": [
            {
                "judge_model": stats.judge_model,
                "pairs": stats.pairs,
                "consistency": stats.consistency,
                "first_position": stats.first_position,
                "always_first": stats.always_first,
                "tie_rate": stats.tie_rate,
                "unreliable": stats.unreliable,
                "advice": stats.advice,
            }
            for stats in judge_stats(pairs)
        ]
    }


def percent(value: float) -> str:
    return f"{value:.0%}"


def markdown_lines(section: JudgesSectionData | None) -> list[str]:
    """The Markdown section (empty without judged pairs)."""
    if section is None:
        return []
    lines = [
        "## Judge",
        "",
        "| judge | pairs | consistent | first position | always first | ties |",
        "|---|---|---|---|---|---|",
    ]
    for judge in section["judges"]:
        flag = " **(unreliable)**" if judge["unreliable"] else ""
        lines.append(
            f"| {judge['judge_model']}{flag} | {judge['pairs']} | {percent(judge['consistency'])} | "
            f"{percent(judge['first_position'])} | {percent(judge['always_first'])} | {percent(judge['tie_rate'])} |"
        )
    lines.append("")
    lines += [f"**Warning:** {judge['advice']}" for judge in section["judges"] if judge["advice"]]
    lines += [
        "Each pair is asked in both orders; consistent: both orders agree. First position: single verdicts for "
        "the answer shown first (near 50% without position bias).",
        "",
    ]
    return lines
