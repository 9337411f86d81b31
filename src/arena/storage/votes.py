"""Votes: a thumb on one answer, or a verdict between two instances of one turn.

Same rules as ``repository``: call inside ``Database.session()``; a user's mistake comes back as
``InvalidInput``, ``NotFound`` or ``Conflict``.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import ColumnElement, and_, delete, or_, select
from sqlalchemy.orm import Session

from arena.errors import Conflict, InvalidInput, NotFound
from arena.storage.battles import refresh_conversation
from arena.storage.models import (
    CATEGORY_MAX_LENGTH,
    PAIRWISE_VALUES,
    THUMB_VALUES,
    VOTE_KINDS,
    Response,
    Turn,
    Vote,
    utcnow,
)
from arena.storage.repository import get_conversation

VOTING_CLOSED: Final = "voting is closed: the models of this conversation were revealed"


def _same_voter(voter_id: int | None) -> ColumnElement[bool]:
    return Vote.voter_id.is_(None) if voter_id is None else Vote.voter_id == voter_id


def add_vote(
    session: Session,
    *,
    conversation_id: str,
    turn_id: int,
    kind: str,
    value: str,
    response_id: int | None = None,
    instance_a: str | None = None,
    instance_b: str | None = None,
    voter_id: int | None = None,
    category: str | None = None,
) -> Vote:
    """Record a thumb ("up"/"down" on ``response_id``) or a pairwise vote ("A", "B", "tie",
    "both_bad" between ``instance_a`` and ``instance_b``).

    A voter has one vote per target: voting again on the same response, or on the same pair
    in the same turn, replaces the earlier vote. A blind conversation takes no votes once
    its models are revealed. A vote on an imported conversation is marked ``imported``.
    ``category`` is the prompt's category as the voter names it (blank: none).
    """
    if kind not in VOTE_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(VOTE_KINDS)}, got {kind!r}")
    category = vote_category(category)
    conversation = get_conversation(session, conversation_id=conversation_id)
    if conversation.blind and conversation.revealed_at is not None:
        raise Conflict(VOTING_CLOSED)
    turn_found = session.scalar(select(Turn.id).where(Turn.id == turn_id, Turn.conversation_id == conversation_id))
    if turn_found is None:
        raise NotFound(f"turn {turn_id!r} is not part of conversation {conversation_id!r}")

    if kind == "thumb":
        if value not in THUMB_VALUES:
            raise InvalidInput(f"a thumb vote is one of {', '.join(THUMB_VALUES)}, got {value!r}")
        if response_id is None or instance_a is not None or instance_b is not None:
            raise InvalidInput("a thumb vote names a response_id and no instances")
        response_found = session.scalar(
            select(Response.id).where(Response.id == response_id, Response.turn_id == turn_id)
        )
        if response_found is None:
            raise NotFound(f"response {response_id!r} does not answer turn {turn_id!r}")
        earlier = and_(Vote.kind == "thumb", Vote.response_id == response_id)
    else:
        if value not in PAIRWISE_VALUES:
            raise InvalidInput(f"a pairwise vote is one of {', '.join(PAIRWISE_VALUES)}, got {value!r}")
        if instance_a is None or instance_b is None or response_id is not None:
            raise InvalidInput("a pairwise vote names instance_a and instance_b and no response_id")
        if instance_a == instance_b:
            raise InvalidInput("a pairwise vote compares two different instances")
        taking_part = {member.instance_id for member in conversation.instances}
        for instance_id in (instance_a, instance_b):
            if instance_id not in taking_part:
                raise InvalidInput(f"instance {instance_id!r} does not take part in this conversation")
        earlier = and_(
            Vote.kind == "pairwise",
            Vote.turn_id == turn_id,
            or_(
                and_(Vote.instance_a == instance_a, Vote.instance_b == instance_b),
                and_(Vote.instance_a == instance_b, Vote.instance_b == instance_a),
            ),
        )

    session.execute(
        delete(Vote).where(earlier, _same_voter(voter_id)), execution_options={"synchronize_session": False}
    )
    vote = Vote(
        conversation_id=conversation_id,
        turn_id=turn_id,
        kind=kind,
        value=value,
        response_id=response_id,
        instance_a=instance_a,
        instance_b=instance_b,
        voter_id=voter_id,
        category=category,
        # A vote on an imported conversation's answers is about data someone handed the server.
        imported=conversation.imported,
        created_at=utcnow(),
    )
    session.add(vote)
    session.flush()
    refresh_conversation(session, conversation_id=conversation_id)
    return vote


def vote_category(category: str | None) -> str | None:
    """A category as stored: trimmed, None when blank, at most ``CATEGORY_MAX_LENGTH`` characters."""
    cleaned = (category or "").strip() or None
    if cleaned is not None and len(cleaned) > CATEGORY_MAX_LENGTH:
        raise InvalidInput(f"the category is longer than {CATEGORY_MAX_LENGTH} characters")
    return cleaned


def list_votes(
    session: Session,
    *,
    conversation_id: str | None = None,
    turn_id: int | None = None,
    kind: str | None = None,
) -> list[Vote]:
    """Votes in the order they were cast, narrowed by any of the filters given."""
    if kind is not None and kind not in VOTE_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(VOTE_KINDS)}, got {kind!r}")
    statement = select(Vote).order_by(Vote.id)
    if conversation_id is not None:
        statement = statement.where(Vote.conversation_id == conversation_id)
    if turn_id is not None:
        statement = statement.where(Vote.turn_id == turn_id)
    if kind is not None:
        statement = statement.where(Vote.kind == kind)
    return list(session.scalars(statement))


def add_imported_votes(
    session: Session,
    *,
    conversation_id: str,
    turn_id: int,
    kind: str,
    value: str,
    count: int,
    response_id: int | None = None,
    instance_a: str | None = None,
    instance_b: str | None = None,
) -> None:
    """Restore ``count`` votes from an export as they were: unlike ``add_vote``, they do not
    replace one another, and they are marked ``imported`` (the leaderboard leaves them out
    unless asked). Call it while building an imported conversation, before the reveal."""
    if count < 0:
        raise InvalidInput(f"a vote count must not be negative, got {count}")
    if kind == "thumb":
        if value not in THUMB_VALUES or response_id is None or instance_a is not None or instance_b is not None:
            raise InvalidInput(f"a thumb vote is one of {', '.join(THUMB_VALUES)} on one response, got {value!r}")
    elif kind == "pairwise":
        if value not in PAIRWISE_VALUES or response_id is not None or None in (instance_a, instance_b):
            raise InvalidInput(f"a pairwise vote is one of {', '.join(PAIRWISE_VALUES)} between two instances")
        if instance_a == instance_b:
            raise InvalidInput("a pairwise vote compares two different instances")
    else:
        raise InvalidInput(f"kind must be one of {', '.join(VOTE_KINDS)}, got {kind!r}")
    now = utcnow()
    session.add_all(
        Vote(
            conversation_id=conversation_id,
            turn_id=turn_id,
            kind=kind,
            value=value,
            response_id=response_id,
            instance_a=instance_a,
            instance_b=instance_b,
            imported=True,
            created_at=now,
        )
        for _ in range(count)
    )
    session.flush()
    refresh_conversation(session, conversation_id=conversation_id)


def clear_pairwise_on_regenerate(session: Session, *, turn_id: int) -> int:
    """A regenerate replaces one answer of the turn: its pairwise verdicts were about a text no
    voter will see again, so they go (voting reopens). After the reveal votes are closed and
    stay as cast. Thumbs stay on the answer they were cast on. Returns how many went."""
    turn = session.get(Turn, turn_id)
    if turn is None or get_conversation(session, conversation_id=turn.conversation_id).revealed_at is not None:
        return 0
    result = session.execute(
        delete(Vote).where(Vote.turn_id == turn_id, Vote.kind == "pairwise"),
        execution_options={"synchronize_session": False},
    )
    refresh_conversation(session, conversation_id=turn.conversation_id)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
