"""Judgments (LLM-judge verdicts), and the pairwise signals the leaderboard is built from.

Like ``repository``: plain functions over a ``Session``, called inside ``Database.session()``;
user mistakes come back as ``InvalidInput`` / ``NotFound``, never as a database error.
Battles are not stored: they are derived on every read from votes and judgments
(``evaluation/ratings/battles.py``), so a replaced vote or a deleted conversation can never leave a
stale battle behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, or_, select, true
from sqlalchemy.orm import Session, aliased

from arena.errors import InvalidInput, NotFound
from arena.storage.bench_models import BenchRun
from arena.storage.models import (
    CATEGORY_MAX_LENGTH,
    JUDGE_KEY_MAX_LENGTH,
    JUDGE_MODES,
    JUDGE_VERDICTS,
    JUDGE_WINNERS,
    MODEL_ID_MAX_LENGTH,
    Conversation,
    ConversationInstance,
    Instance,
    Judgment,
    Response,
    Turn,
    Vote,
    utcnow,
)
from arena.storage.ownership import Reader, visible, visible_conversations

MAX_JUDGMENTS_PAGE: Final = 500


# --- judgments ----------------------------------------------------------------------------


def add_judgment(
    session: Session,
    *,
    run_id: str,
    judge_model: str,
    mode: str,
    key_a: str,
    raw_ab: str,
    cloud: bool = False,
    conversation_id: str | None = None,
    turn_id: int | None = None,
    category: str | None = None,
    key_b: str | None = None,
    reference: str | None = None,
    options: dict[str, Any] | None = None,
    raw_ba: str | None = None,
    verdict_ab: str | None = None,
    verdict_ba: str | None = None,
    parsed: dict[str, Any] | None = None,
    score: float | None = None,
    winner: str | None = None,
    consistent: bool | None = None,
    owner_id: int | None = None,
) -> Judgment:
    """Store one judgment; a pairwise one needs both orders, a grade needs its score.

    ``owner_id`` is who ran a raw-prompt judgment; one about a stored turn has no owner of its
    own (it follows its conversation)."""
    if mode not in JUDGE_MODES:
        raise InvalidInput(f"mode must be one of {', '.join(JUDGE_MODES)}, got {mode!r}")
    if not judge_model or len(judge_model) > MODEL_ID_MAX_LENGTH:
        raise InvalidInput(f"the judge model id must have 1 to {MODEL_ID_MAX_LENGTH} characters")
    for key in (key_a, key_b):
        if key is not None and not 0 < len(key) <= JUDGE_KEY_MAX_LENGTH:
            raise InvalidInput(f"a candidate key must have 1 to {JUDGE_KEY_MAX_LENGTH} characters")
    if category is not None and len(category) > CATEGORY_MAX_LENGTH:
        raise InvalidInput(f"the category is longer than {CATEGORY_MAX_LENGTH} characters")
    if mode == "pairwise":
        if key_b is None or raw_ba is None or consistent is None or score is not None:
            raise InvalidInput("a pairwise judgment needs key_b, both orders and consistency, and no score")
        if verdict_ab not in JUDGE_VERDICTS or verdict_ba not in JUDGE_VERDICTS:
            raise InvalidInput(f"a pairwise verdict is one of {', '.join(JUDGE_VERDICTS)}")
        if winner not in JUDGE_WINNERS:
            raise InvalidInput(f"the winner is one of {', '.join(JUDGE_WINNERS)}")
    elif score is None or any(v is not None for v in (key_b, raw_ba, verdict_ab, verdict_ba, winner, consistent)):
        raise InvalidInput("a graded judgment has one candidate and a score, and no verdicts")
    if (conversation_id is None) != (turn_id is None):
        raise InvalidInput("give both conversation_id and turn_id, or neither")
    if turn_id is not None and owner_id is not None:
        raise InvalidInput("a judgment about a stored turn belongs to its conversation, not to an owner")
    if turn_id is not None:
        found = session.scalar(select(Turn.id).where(Turn.id == turn_id, Turn.conversation_id == conversation_id))
        if found is None:
            raise NotFound(f"turn {turn_id!r} is not part of conversation {conversation_id!r}")
    judgment = Judgment(
        run_id=run_id,
        owner_id=owner_id,
        conversation_id=conversation_id,
        turn_id=turn_id,
        judge_model=judge_model,
        cloud=cloud,
        mode=mode,
        category=category,
        key_a=key_a,
        key_b=key_b,
        reference=reference,
        options=options,
        raw_ab=raw_ab,
        raw_ba=raw_ba,
        verdict_ab=verdict_ab,
        verdict_ba=verdict_ba,
        parsed=parsed,
        score=score,
        winner=winner,
        consistent=consistent,
        created_at=utcnow(),
    )
    session.add(judgment)
    session.flush()
    return judgment


def list_judgments(
    session: Session,
    *,
    conversation_id: str | None = None,
    turn_id: int | None = None,
    run_id: str | None = None,
    judge_model: str | None = None,
    limit: int = 100,
    reader: Reader | None = None,
) -> list[Judgment]:
    """Judgments in the order they were made, narrowed by any of the filters given, and to those
    ``reader`` may see (None: all): a raw-prompt one by the ownership rule, one about a stored
    turn when its conversation is visible to them."""
    if not 1 <= limit <= MAX_JUDGMENTS_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_JUDGMENTS_PAGE}, got {limit}")
    statement = select(Judgment).order_by(Judgment.id)
    if reader is not None:
        readable = select(Conversation.id).where(visible_conversations(reader))
        statement = statement.where(
            or_(
                and_(Judgment.conversation_id.is_(None), visible(Judgment.owner_id, reader, admin_reads=True)),
                Judgment.conversation_id.in_(readable),
            )
        )
    if conversation_id is not None:
        statement = statement.where(Judgment.conversation_id == conversation_id)
    if turn_id is not None:
        statement = statement.where(Judgment.turn_id == turn_id)
    if run_id is not None:
        statement = statement.where(Judgment.run_id == run_id)
    if judge_model is not None:
        statement = statement.where(Judgment.judge_model == judge_model)
    return list(session.scalars(statement.limit(limit)))


# --- signals for battles ------------------------------------------------------------------


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
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class BattleSignals:
    pairwise_votes: list[PairwiseVoteSignal]
    thumbs: list[ThumbSignal]
    judgments: list[JudgmentSignal]


def battle_signals(session: Session, *, include_imported: bool = False) -> BattleSignals:
    """Every vote, and every verdict about answers the arena generated, with the models behind them.

    An imported conversation is data someone handed the server, not answers generated here: the
    votes on it (restored by the import or cast since) and verdicts about it are left out unless
    ``include_imported``. A verdict counts when it is about a stored turn, its candidates taking
    part in that conversation, or comes from a benchmark run, its candidates that run's
    instances. A raw-prompt judge run never counts: its answers are the caller's text, whatever
    keys they were given.
    """
    instance_a, instance_b = aliased(Instance), aliased(Instance)
    counted = _not_imported(include_imported, Vote.imported, Conversation.imported)
    pairwise = session.execute(
        select(Vote, instance_a.model, instance_b.model)
        .join(Conversation, Conversation.id == Vote.conversation_id)
        .join(instance_a, instance_a.id == Vote.instance_a)
        .join(instance_b, instance_b.id == Vote.instance_b)
        .where(Vote.kind == "pairwise", counted)
        .order_by(Vote.id)
    ).all()
    thumbs = session.execute(
        select(Vote, Response.instance_id, Instance.model)
        .join(Conversation, Conversation.id == Vote.conversation_id)
        .join(Response, Response.id == Vote.response_id)
        .join(Instance, Instance.id == Response.instance_id)
        .where(Vote.kind == "thumb", counted)
        .order_by(Vote.id)
    ).all()
    judged = _judgments_between_instances(session, include_imported=include_imported)
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


def _not_imported(include_imported: bool, *flags: Any) -> ColumnElement[bool]:
    """Rows none of whose ``imported`` flags is set (every row when imported data is asked for)."""
    return true() if include_imported else and_(*(flag.is_(False) for flag in flags))


def _judgments_between_instances(session: Session, *, include_imported: bool) -> list[tuple[Judgment, str, str | None]]:
    """Each verdict about answers the arena generated, with the models of its candidates: a grade
    needs key_a to be a candidate, a pair both keys. Candidates are the instances of the judged
    conversation, or of the benchmark run. Matched in Python, as the keys may be stored encrypted
    (no SQL join)."""
    judgments = list(session.scalars(select(Judgment).order_by(Judgment.id)))
    candidates = _conversation_candidates(
        session, {j.conversation_id for j in judgments if j.conversation_id is not None}, include_imported
    ) | _bench_candidates(session, {j.run_id for j in judgments if j.conversation_id is None})

    def allowed(j: Judgment) -> set[str]:
        return candidates.get(j.conversation_id or f"bench:{j.run_id}", set())

    kept = [j for j in judgments if j.key_a in allowed(j) and (j.key_b is None or j.key_b in allowed(j))]
    keys = {key for j in kept for key in (j.key_a, j.key_b) if key is not None}
    models: dict[str, str] = {}
    for chunk in _chunks(sorted(keys)):
        rows = session.execute(select(Instance.id, Instance.model).where(Instance.id.in_(chunk)))
        models.update((instance_id, model) for instance_id, model in rows)
    return [
        (j, models[j.key_a], None if j.key_b is None else models[j.key_b])
        for j in kept
        if j.key_a in models and (j.key_b is None or j.key_b in models)
    ]


def _conversation_candidates(session: Session, ids: set[str], include_imported: bool) -> dict[str, set[str]]:
    """Conversation id -> its instances, for conversations whose verdicts count."""
    found: dict[str, set[str]] = {}
    counted = _not_imported(include_imported, Conversation.imported)
    for chunk in _chunks(sorted(ids)):
        rows = session.execute(
            select(ConversationInstance.conversation_id, ConversationInstance.instance_id)
            .join(Conversation, Conversation.id == ConversationInstance.conversation_id)
            .where(ConversationInstance.conversation_id.in_(chunk), counted)
        )
        for conversation_id, instance_id in rows:
            found.setdefault(conversation_id, set()).add(instance_id)
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
