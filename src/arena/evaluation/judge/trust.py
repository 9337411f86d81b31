"""The judges' statistics from what is stored, and the warning a judge earns where it is chosen
(the judge pickers, the bench CLI and API). The numbers themselves are ``stats``'s."""

from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final, cast

from arena.evaluation.judge.stats import HumanVote, JudgedPair, JudgeStats, Verdict, judge_stats
from arena.storage.db import Database
from arena.storage.judge_verdicts import StoredVerdictPair, verdict_pairs, verdicts_stamp

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Answer:
    stamp: tuple[int, int, int]
    stats: list[JudgeStats]


_KEPT: Final = 32  # questions (run, judge) whose answer a process keeps per database
# Per database object, the latest answers with the stamp of the data they were computed from:
# reading every verdict costs seconds at a million, and the pickers ask on every page load.
_answers: weakref.WeakKeyDictionary[Database, OrderedDict[tuple[str | None, str | None], _Answer]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def stored_judge_stats(
    database: Database, *, run_id: str | None = None, judge_model: str | None = None
) -> list[JudgeStats]:
    """Every judge model's numbers over the verdicts the leaderboard counts (one run's, or one
    judge's, when given); computed again only when the verdicts or votes changed since."""
    question = (run_id, judge_model)
    with database.session() as session:
        stamp = verdicts_stamp(session)  # before reading: a change meanwhile only makes it older
        with _lock:
            known = _answers.setdefault(database, OrderedDict()).get(question)
        if known is not None and known.stamp == stamp:
            return list(known.stats)
        stored = verdict_pairs(session, run_id=run_id, judge_model=judge_model)
    stats = _stats(stored)
    with _lock:
        kept = _answers.setdefault(database, OrderedDict())
        kept[question] = _Answer(stamp=stamp, stats=stats)
        kept.move_to_end(question)
        while len(kept) > _KEPT:
            kept.popitem(last=False)
    return list(stats)


def warm(database: Database) -> None:
    """Compute every judge's numbers ahead (the app does at startup, in the background); a
    failure is only logged: a request computes them itself."""
    try:
        stored_judge_stats(database)
    except Exception:  # a warm-up is an optimisation: never a reason to fail
        logger.warning("could not compute the judges' numbers ahead", exc_info=True)


def _stats(stored: list[StoredVerdictPair]) -> list[JudgeStats]:
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
