"""The judges' statistics from what is stored, and the warning a judge earns where it is chosen
(the judge pickers, the bench CLI and API). The numbers themselves are ``stats``'s."""

from __future__ import annotations

from typing import cast

from arena.evaluation.judge.stats import HumanVote, JudgedPair, JudgeStats, Verdict, judge_stats
from arena.storage.db import Database
from arena.storage.judge_verdicts import verdict_pairs


def stored_judge_stats(
    database: Database, *, run_id: str | None = None, judge_model: str | None = None
) -> list[JudgeStats]:
    """Every judge model's numbers over the verdicts the leaderboard counts (one run's, or one
    judge's, when given)."""
    with database.session() as session:
        stored = verdict_pairs(session, run_id=run_id, judge_model=judge_model)
    return judge_stats(
        JudgedPair(
            judge_model=pair.judge_model,
            verdict_ab=cast(Verdict, pair.verdict_ab),
            verdict_ba=cast(Verdict, pair.verdict_ba),
            humans=cast(tuple[HumanVote, ...], pair.humans),
        )
        for pair in stored
    )


def judge_warning(database: Database, judge_model: str) -> str | None:
    """The advice for a judge that was inconsistent on most of its stored pairs; None otherwise
    (also for a judge with too few pairs to tell)."""
    for stats in stored_judge_stats(database, judge_model=judge_model):
        if stats.unreliable:
            return stats.advice
    return None
