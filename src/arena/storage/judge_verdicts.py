"""Pairwise verdicts with both orders, and the human votes on the same answers: what the judges'
statistics (``evaluation/judge/stats``) are computed from.

The same verdicts the leaderboard counts (``battle_signals``): about a stored turn of a
conversation that is not imported and not masked (blind and unrevealed), or from a benchmark run.
A raw-prompt judge run is the caller's own text and stays private to them. Human votes are the
pairwise votes cast here (not restored by an import) on the judged turn, about the same two
instances; they are turned into the verdict's frame (``a`` is the verdict's ``key_a``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Final

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from arena.storage.battles import last_change
from arena.storage.bench_models import BenchRun
from arena.storage.models import Conversation, Judgment, Vote

_CHUNK: Final = 500  # bounded IN lists: SQLite limits a statement's parameters
_FLIPPED: Final = {"A": "b", "B": "a", "tie": "tie", "both_bad": "both_bad"}
_SAME: Final = {"A": "a", "B": "b", "tie": "tie", "both_bad": "both_bad"}


@dataclass(frozen=True, kw_only=True)
class StoredVerdictPair:
    judge_model: str
    run_id: str
    verdict_ab: str  # A | B | tie, key_a shown first
    verdict_ba: str  # key_b shown first
    humans: tuple[str, ...]  # a | b | tie | both_bad, in terms of key_a / key_b


def verdicts_stamp(session: Session) -> tuple[int, int, int]:
    """What changes whenever ``verdict_pairs`` may answer differently: the battles' change log
    (every vote, re-vote, reveal, import flag, verdict and delete that the leaderboard counts
    writes to it) and the verdicts' count and newest id (one that makes no battle, deletes)."""
    count, newest = session.execute(select(func.count(), func.max(Judgment.id)).select_from(Judgment)).one()
    return last_change(session), count, newest or 0


def verdict_pairs(
    session: Session, *, run_id: str | None = None, judge_model: str | None = None
) -> list[StoredVerdictPair]:
    """Every counted pairwise verdict, oldest first (only run ``run_id``'s, or one judge's, when given)."""
    counted_conversation = and_(
        Conversation.imported.is_(False), or_(Conversation.blind.is_(False), Conversation.revealed_at.is_not(None))
    )
    # Only the columns the numbers need: the judge's raw answers and rationales stay encrypted and unread.
    query = (
        select(
            Judgment.judge_model,
            Judgment.run_id,
            Judgment.turn_id,
            Judgment.key_a,
            Judgment.key_b,
            Judgment.verdict_ab,
            Judgment.verdict_ba,
        )
        .outerjoin(Conversation, Conversation.id == Judgment.conversation_id)
        .where(
            Judgment.mode == "pairwise",
            or_(
                and_(Judgment.conversation_id.is_not(None), counted_conversation),
                and_(Judgment.conversation_id.is_(None), Judgment.run_id.in_(select(BenchRun.id))),
            ),
        )
        .order_by(Judgment.id)
    )
    if run_id is not None:
        query = query.where(Judgment.run_id == run_id)
    if judge_model is not None:
        query = query.where(Judgment.judge_model == judge_model)
    judgments = session.execute(query).all()
    votes = _votes_by_turn(session, sorted({j.turn_id for j in judgments if j.turn_id is not None}))
    pairs = []
    for judgment in judgments:
        if judgment.verdict_ab is None or judgment.verdict_ba is None:
            continue  # the table's shape rules this out for a pairwise row; kept for the type checker
        humans = []
        for vote in votes.get(judgment.turn_id, []) if judgment.turn_id is not None else []:
            if (vote.instance_a, vote.instance_b) == (judgment.key_a, judgment.key_b):
                humans.append(_SAME[vote.value])
            elif (vote.instance_a, vote.instance_b) == (judgment.key_b, judgment.key_a):
                humans.append(_FLIPPED[vote.value])
        pairs.append(
            StoredVerdictPair(
                judge_model=judgment.judge_model,
                run_id=judgment.run_id,
                verdict_ab=judgment.verdict_ab,
                verdict_ba=judgment.verdict_ba,
                humans=tuple(humans),
            )
        )
    return pairs


def _votes_by_turn(session: Session, turn_ids: list[int]) -> dict[int, list[Vote]]:
    found: dict[int, list[Vote]] = defaultdict(list)
    for start in range(0, len(turn_ids), _CHUNK):
        chunk = turn_ids[start : start + _CHUNK]
        rows = session.scalars(
            select(Vote)
            .where(Vote.kind == "pairwise", Vote.imported.is_(False), Vote.turn_id.in_(chunk))
            .order_by(Vote.id)
        )
        for vote in rows:
            found[vote.turn_id].append(vote)
    return found
