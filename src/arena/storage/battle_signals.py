"""The pairwise signals the leaderboard is built from: every vote, and every judgment between instances.

Plain functions over a ``Session``, like ``repository``. Battles are not stored: they are
derived on every read from these signals (``evaluation/ratings/standings.py``), so a replaced
vote or a deleted conversation can never leave a stale battle behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from arena.storage.models import Instance, Judgment, Response, Vote


@dataclass(frozen=True, kw_only=True)
class PairwiseVoteSignal:
    turn_id: int
    voter_id: int | None
    instance_a: str
    instance_b: str
    model_a: str
    model_b: str
    value: str  # A | B | tie | both_bad
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class ThumbSignal:
    turn_id: int
    voter_id: int | None
    response_id: int
    instance_id: str
    model: str
    value: str  # up | down
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class JudgmentSignal:
    id: int
    run_id: str
    turn_id: int | None  # None: a raw or batch-benchmark judgment whose keys are instance ids
    judge_model: str
    mode: str
    category: str | None
    instance_a: str
    instance_b: str | None
    model_a: str
    model_b: str | None
    winner: str | None
    score: float | None
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class BattleSignals:
    pairwise_votes: list[PairwiseVoteSignal]
    thumbs: list[ThumbSignal]
    judgments: list[JudgmentSignal]


def battle_signals(session: Session, *, include_imported: bool = False) -> BattleSignals:
    """Every vote, and every judgment whose candidates are instances, with the models behind them.

    Votes restored by an import are data, not votes cast here: left out unless asked for.

    Judgments about a stored turn always name instances; raw ones do when the caller used
    instance ids as keys, as batch benchmarks do. Raw answers under other keys are no battle.
    """
    instance_a, instance_b = aliased(Instance), aliased(Instance)
    pairwise = session.execute(
        select(Vote, instance_a.model, instance_b.model)
        .join(instance_a, instance_a.id == Vote.instance_a)
        .join(instance_b, instance_b.id == Vote.instance_b)
        .where(Vote.kind == "pairwise", or_(Vote.imported.is_(False), include_imported))
        .order_by(Vote.id)
    ).all()
    thumbs = session.execute(
        select(Vote, Response.instance_id, Instance.model)
        .join(Response, Response.id == Vote.response_id)
        .join(Instance, Instance.id == Response.instance_id)
        .where(Vote.kind == "thumb", or_(Vote.imported.is_(False), include_imported))
        .order_by(Vote.id)
    ).all()
    judged = _judgments_between_instances(session)
    return BattleSignals(
        pairwise_votes=[
            PairwiseVoteSignal(
                turn_id=vote.turn_id,
                voter_id=vote.voter_id,
                instance_a=vote.instance_a,
                instance_b=vote.instance_b,
                model_a=model_a,
                model_b=model_b,
                value=vote.value,
                created_at=vote.created_at,
            )
            for vote, model_a, model_b in pairwise
        ],
        thumbs=[
            ThumbSignal(
                turn_id=vote.turn_id,
                voter_id=vote.voter_id,
                response_id=vote.response_id,
                instance_id=instance_id,
                model=model,
                value=vote.value,
                created_at=vote.created_at,
            )
            for vote, instance_id, model in thumbs
        ],
        judgments=[
            JudgmentSignal(
                id=judgment.id,
                run_id=judgment.run_id,
                turn_id=judgment.turn_id,
                judge_model=judgment.judge_model,
                mode=judgment.mode,
                category=judgment.category,
                instance_a=judgment.key_a,
                instance_b=judgment.key_b,
                model_a=model_a,
                model_b=model_b,
                winner=judgment.winner,
                score=judgment.score,
                created_at=judgment.created_at,
            )
            for judgment, model_a, model_b in judged
        ],
    )


def _judgments_between_instances(session: Session) -> list[tuple[Judgment, str, str | None]]:
    """Each judgment whose keys name instances, with their models: a grade needs key_a to be one,
    a pair both keys. Matched in Python, as the keys may be stored encrypted (no SQL join)."""
    judgments = list(session.scalars(select(Judgment).order_by(Judgment.id)))
    keys = {key for j in judgments for key in (j.key_a, j.key_b) if key is not None}
    models: dict[str, str] = {}
    for chunk in _chunks(sorted(keys)):
        rows = session.execute(select(Instance.id, Instance.model).where(Instance.id.in_(chunk)))
        models.update((instance_id, model) for instance_id, model in rows)
    return [
        (j, models[j.key_a], None if j.key_b is None else models[j.key_b])
        for j in judgments
        if j.key_a in models and (j.key_b is None or j.key_b in models)
    ]


def _chunks(values: list[str], size: int = 500) -> list[list[str]]:
    """Bounded IN lists: SQLite limits how many parameters one statement may have."""
    return [values[i : i + size] for i in range(0, len(values), size)]
