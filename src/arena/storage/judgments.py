"""Judgments (LLM-judge verdicts): storing one, and listing them for a reader.

Like ``repository``: plain functions over a ``Session``, called inside ``Database.session()``;
user mistakes come back as ``InvalidInput`` / ``NotFound``, never as a database error.
The signals the leaderboard reads from judgments and votes are in ``battle_signals``.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from arena.errors import InvalidInput, NotFound
from arena.storage.battles import refresh_conversation, refresh_verdict
from arena.storage.models import (
    CATEGORY_MAX_LENGTH,
    JUDGE_KEY_MAX_LENGTH,
    JUDGE_MODES,
    JUDGE_VERDICTS,
    JUDGE_WINNERS,
    MODEL_ID_MAX_LENGTH,
    Conversation,
    Judgment,
    Response,
    Turn,
    utcnow,
)
from arena.storage.ownership import Reader, visible, visible_conversations

MAX_JUDGMENTS_PAGE: Final = 500


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
    response_a_id: int | None = None,
    response_b_id: int | None = None,
) -> Judgment:
    """Store one judgment; a pairwise one needs both orders, a grade needs its score.

    ``owner_id`` is who ran a raw-prompt judgment; one about a stored turn has no owner of its
    own (it follows its conversation). ``response_a_id`` / ``response_b_id`` name the answers
    judged (a stored turn's responses of ``key_a`` / ``key_b``), when known."""
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
    _check_judged(session, turn_id=turn_id, answers=((key_a, response_a_id), (key_b, response_b_id)))
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
        response_a_id=response_a_id,
        response_b_id=response_b_id,
        created_at=utcnow(),
    )
    session.add(judgment)
    session.flush()
    if conversation_id is not None:
        refresh_conversation(session, conversation_id=conversation_id)
    else:
        refresh_verdict(session, judgment_id=judgment.id, run_id=run_id, pairwise=mode == "pairwise")
    return judgment


def _check_judged(session: Session, *, turn_id: int | None, answers: tuple[tuple[str | None, int | None], ...]) -> None:
    """A judged answer is one of the turn's responses, given by the instance it names."""
    for key, response_id in answers:
        if response_id is None:
            continue
        if turn_id is None or key is None:
            raise InvalidInput("only a verdict about a stored turn names the responses it judged")
        found = session.scalar(
            select(Response.id).where(
                Response.id == response_id, Response.turn_id == turn_id, Response.instance_id == key
            )
        )
        if found is None:
            raise NotFound(f"response {response_id} is not that instance's answer to turn {turn_id}")


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


def conversation_judgments(session: Session, *, conversation_id: str) -> list[Judgment]:
    """Every verdict about a conversation's turns, in the order they were made (for its exports)."""
    statement = select(Judgment).where(Judgment.conversation_id == conversation_id).order_by(Judgment.id)
    return list(session.scalars(statement))
