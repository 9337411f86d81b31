"""The pairwise signals the leaderboard is built from: every vote, and every judgment between instances.

Plain functions over a ``Session``, like ``repository``. ``battle_rows`` turns these signals into
battles; ``battles`` keeps the stored ``battles`` table in step with them, re-reading one
conversation's (or one benchmark verdict's) signals whenever something there changes.

A blind conversation's votes and verdicts count only once it is revealed: counted earlier, the
leaderboard (by instance, or over a narrow ``since``) would tell who Model A is. Each signal's
``counts_at`` is when it joined the leaderboard: when it was cast or given, or the reveal if that
came later, so the time filters never show a battle as counting before it could.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, true
from sqlalchemy.orm import Session, aliased

from arena.storage.bench_models import BenchRun
from arena.storage.models import Conversation, ConversationInstance, Instance, Judgment, Response, Vote


@dataclass(frozen=True, kw_only=True)
class PairwiseVoteSignal:
    id: int
    conversation_id: str
    turn_id: int
    voter_id: int | None
    instance_a: str
    instance_b: str
    model_a: str
    model_b: str
    value: str  # A | B | tie | both_bad
    counts_at: datetime
    category: str | None = None  # the prompt's, as the voter named it


@dataclass(frozen=True, kw_only=True)
class ThumbSignal:
    vote_id: int
    conversation_id: str
    turn_id: int
    voter_id: int | None
    response_id: int
    instance_id: str
    model: str
    value: str  # up | down
    counts_at: datetime
    category: str | None = None  # the prompt's, as the voter named it


@dataclass(frozen=True, kw_only=True)
class JudgmentSignal:
    id: int
    run_id: str
    conversation_id: str | None = None  # None: a benchmark run's (or a raw prompt's) verdict
    turn_id: int | None  # None: a benchmark run's verdict (its run_id is the run's)
    judge_model: str
    mode: str
    category: str | None
    instance_a: str
    instance_b: str | None
    model_a: str
    model_b: str | None
    winner: str | None
    score: float | None
    counts_at: datetime
    response_a_id: int | None = None  # the answers judged, where known
    response_b_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class BattleSignals:
    pairwise_votes: list[PairwiseVoteSignal]
    thumbs: list[ThumbSignal]
    judgments: list[JudgmentSignal]


def battle_signals(
    session: Session,
    *,
    include_imported: bool = False,
    conversation_id: str | None = None,
    run_id: str | None = None,
    judgment_id: int | None = None,
) -> BattleSignals:
    """Every vote, and every verdict about answers the arena generated, with the models behind them.

    An imported conversation is data someone handed the server, not answers generated here: the
    votes on it (restored by the import or cast since) and verdicts about it are left out unless
    ``include_imported``. A verdict counts when it is about a stored turn, its candidates taking
    part in that conversation, or comes from a benchmark run, its candidates that run's
    instances. A raw-prompt judge run never counts: its answers are the caller's text, whatever
    keys they were given. Nothing about a masked conversation (blind, not yet revealed) counts.

    ``conversation_id`` narrows to one conversation's signals; ``run_id`` to a benchmark run's
    verdicts, ``judgment_id`` to one verdict (the stored battles are kept up to date so).
    """
    instance_a, instance_b = aliased(Instance), aliased(Instance)
    counted = and_(_not_imported(include_imported, Vote.imported, Conversation.imported), _unmasked())
    if conversation_id is not None or run_id is not None or judgment_id is not None:
        counted = and_(counted, Vote.conversation_id == conversation_id)
    pairwise = session.execute(
        select(Vote, Conversation.revealed_at, instance_a.model, instance_b.model)
        .join(Conversation, Conversation.id == Vote.conversation_id)
        .join(instance_a, instance_a.id == Vote.instance_a)
        .join(instance_b, instance_b.id == Vote.instance_b)
        .where(Vote.kind == "pairwise", counted)
        .order_by(Vote.id)
    ).all()
    thumbs = session.execute(
        select(Vote, Conversation.revealed_at, Response.instance_id, Instance.model)
        .join(Conversation, Conversation.id == Vote.conversation_id)
        .join(Response, Response.id == Vote.response_id)
        .join(Instance, Instance.id == Response.instance_id)
        .where(Vote.kind == "thumb", counted)
        .order_by(Vote.id)
    ).all()
    judged = _judgments_between_instances(
        session, include_imported=include_imported, scope=_judgment_scope(conversation_id, run_id, judgment_id)
    )
    return BattleSignals(
        pairwise_votes=[
            PairwiseVoteSignal(
                id=vote.id,
                conversation_id=vote.conversation_id,
                turn_id=vote.turn_id,
                voter_id=vote.voter_id,
                instance_a=vote.instance_a,
                instance_b=vote.instance_b,
                model_a=model_a,
                model_b=model_b,
                value=vote.value,
                counts_at=_counts_at(vote.created_at, revealed_at),
                category=vote.category,
            )
            for vote, revealed_at, model_a, model_b in pairwise
        ],
        thumbs=[
            ThumbSignal(
                vote_id=vote.id,
                conversation_id=vote.conversation_id,
                turn_id=vote.turn_id,
                voter_id=vote.voter_id,
                response_id=vote.response_id,
                instance_id=instance_id,
                model=model,
                value=vote.value,
                counts_at=_counts_at(vote.created_at, revealed_at),
                category=vote.category,
            )
            for vote, revealed_at, instance_id, model in thumbs
        ],
        judgments=[
            JudgmentSignal(
                id=judgment.id,
                run_id=judgment.run_id,
                conversation_id=judgment.conversation_id,
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
                counts_at=_counts_at(judgment.created_at, revealed_at),
                response_a_id=judgment.response_a_id,
                response_b_id=judgment.response_b_id,
            )
            for judgment, revealed_at, model_a, model_b in judged
        ],
    )


def _unmasked() -> ColumnElement[bool]:
    """Conversations whose signals may count: not blind, or blind and revealed (``is_masked``'s rule)."""
    return or_(Conversation.blind.is_(False), Conversation.revealed_at.is_not(None))


def _counts_at(given_at: datetime, revealed_at: datetime | None) -> datetime:
    """When a signal joined the leaderboard: when given, or at the reveal of its blind conversation."""
    return given_at if revealed_at is None else max(given_at, revealed_at)


def _not_imported(include_imported: bool, *flags: Any) -> ColumnElement[bool]:
    """Rows none of whose ``imported`` flags is set (every row when imported data is asked for)."""
    return true() if include_imported else and_(*(flag.is_(False) for flag in flags))


def _judgment_scope(conversation_id: str | None, run_id: str | None, judgment_id: int | None) -> ColumnElement[bool]:
    """The verdicts one refresh of the stored battles reads (all of them when nothing is named)."""
    if judgment_id is not None:
        return Judgment.id == judgment_id
    if run_id is not None:
        return and_(Judgment.conversation_id.is_(None), Judgment.run_id == run_id)
    if conversation_id is not None:
        return Judgment.conversation_id == conversation_id
    return true()


def _judgments_between_instances(
    session: Session, *, include_imported: bool, scope: ColumnElement[bool]
) -> list[tuple[Judgment, datetime | None, str, str | None]]:
    """Each verdict about answers the arena generated, with its conversation's reveal time and the
    models of its candidates: a grade needs key_a to be a candidate, a pair both keys. Candidates
    are the instances of the judged conversation (one whose verdicts count), or of the benchmark
    run. Matched in Python, as the keys may be stored encrypted (no SQL join)."""
    judgments = list(session.scalars(select(Judgment).where(scope).order_by(Judgment.id)))
    conversations = _conversation_candidates(
        session, {j.conversation_id for j in judgments if j.conversation_id is not None}, include_imported
    )
    candidates = {cid: members for cid, (_, members) in conversations.items()} | _bench_candidates(
        session, {j.run_id for j in judgments if j.conversation_id is None}
    )

    def allowed(j: Judgment) -> set[str]:
        return candidates.get(j.conversation_id or f"bench:{j.run_id}", set())

    def revealed_at(j: Judgment) -> datetime | None:
        return None if j.conversation_id is None else conversations[j.conversation_id][0]

    kept = [j for j in judgments if j.key_a in allowed(j) and (j.key_b is None or j.key_b in allowed(j))]
    keys = {key for j in kept for key in (j.key_a, j.key_b) if key is not None}
    models: dict[str, str] = {}
    for chunk in _chunks(sorted(keys)):
        rows = session.execute(select(Instance.id, Instance.model).where(Instance.id.in_(chunk)))
        models.update((instance_id, model) for instance_id, model in rows)
    return [
        (j, revealed_at(j), models[j.key_a], None if j.key_b is None else models[j.key_b])
        for j in kept
        if j.key_a in models and (j.key_b is None or j.key_b in models)
    ]


def _conversation_candidates(
    session: Session, ids: set[str], include_imported: bool
) -> dict[str, tuple[datetime | None, set[str]]]:
    """Conversation id -> its reveal time and instances, for conversations whose verdicts count."""
    found: dict[str, tuple[datetime | None, set[str]]] = {}
    counted = and_(_not_imported(include_imported, Conversation.imported), _unmasked())
    for chunk in _chunks(sorted(ids)):
        rows = session.execute(
            select(ConversationInstance.conversation_id, Conversation.revealed_at, ConversationInstance.instance_id)
            .join(Conversation, Conversation.id == ConversationInstance.conversation_id)
            .where(ConversationInstance.conversation_id.in_(chunk), counted)
        )
        for conversation_id, revealed, instance_id in rows:
            found.setdefault(conversation_id, (revealed, set()))[1].add(instance_id)
    return found


def _bench_candidates(session: Session, run_ids: set[str]) -> dict[str, set[str]]:
    """For each run id that is a benchmark run's: its instances, under the key ``bench:<run id>``."""
    found: dict[str, set[str]] = {}
    for chunk in _chunks(sorted(run_ids)):
        for run_id, instances in session.execute(select(BenchRun.id, BenchRun.instances).where(BenchRun.id.in_(chunk))):
            found[f"bench:{run_id}"] = {
                i["instance_id"] for i in instances or [] if isinstance(i, dict) and "instance_id" in i
            }
    return found


def _chunks(values: list[str], size: int = 500) -> list[list[str]]:
    """Bounded IN lists: SQLite limits how many parameters one statement may have."""
    return [values[i : i + size] for i in range(0, len(values), size)]
