"""Votes on a conversation's answers, and the reveal that closes voting.

A thumb goes on one instance's latest answer; a pairwise verdict compares the first two
instances (A and B in display order). Votes close at the reveal, so nobody can vote knowing
which model is which; the reveal says which model is behind each label, with its votes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from arena.errors import Conflict, InvalidInput, NotFound
from arena.evaluation.conversation.view import instance_settings, members, resolve_key
from arena.storage import repository
from arena.storage import votes as vote_store
from arena.storage.db import Database
from arena.storage.models import ConversationInstance, Response, Turn
from arena.storage.votes import VOTING_CLOSED


@dataclass(frozen=True, kw_only=True)
class CastVote:
    id: int
    kind: str
    value: str


def _finished_answer(turn: Turn, member: ConversationInstance) -> Response:
    latest = turn.latest_responses().get(member.instance_id)
    if latest is None:
        raise NotFound(f"{member.blind_label} has no answer to turn {turn.id}")
    if latest.status == "streaming":
        raise Conflict(f"the answer of {member.blind_label} is still streaming; vote once it has finished")
    return latest


def cast_vote(
    database: Database,
    *,
    conversation_id: str,
    turn_id: int,
    kind: str,
    value: str,
    key: str | None = None,
    voter_id: int | None = None,
) -> CastVote:
    """A thumb on one instance's latest answer, or a pairwise verdict between the first two
    instances (A and B in display order). Voting again on the same target replaces the vote."""
    with database.session() as session:
        conversation = repository.get_conversation(session, conversation_id=conversation_id)
        if conversation.revealed_at is not None:
            raise Conflict(VOTING_CLOSED)
        turn = _turn_of(session, conversation_id=conversation_id, turn_id=turn_id)
        if kind == "thumb":
            if not key:
                raise InvalidInput("a thumb vote names the answer's `key`")
            answer = _finished_answer(turn, resolve_key(conversation, key))
            vote = vote_store.add_vote(
                session,
                conversation_id=conversation_id,
                turn_id=turn_id,
                kind="thumb",
                value=value,
                response_id=answer.id,
                voter_id=voter_id,
            )
        else:
            pair = members(conversation)
            if len(pair) != 2:
                raise InvalidInput(
                    f"a pairwise vote needs exactly two model instances; this conversation has {len(pair)}"
                )
            for member in pair:
                _finished_answer(turn, member)
            vote = vote_store.add_vote(
                session,
                conversation_id=conversation_id,
                turn_id=turn_id,
                kind="pairwise",
                value=value,
                instance_a=pair[0].instance_id,
                instance_b=pair[1].instance_id,
                voter_id=voter_id,
            )
        return CastVote(id=vote.id, kind=vote.kind, value=vote.value)


def _turn_of(session: Session, *, conversation_id: str, turn_id: int) -> Turn:
    try:
        turn = repository.get_turn(session, turn_id=turn_id)
    except NotFound:
        turn = None
    if turn is None or turn.conversation_id != conversation_id:
        raise NotFound(f"turn {turn_id} is not part of conversation {conversation_id!r}")
    return turn


@dataclass(frozen=True, kw_only=True)
class Revealed:
    label: str
    settings: dict[str, Any]
    up: int
    down: int
    pairwise_wins: int


@dataclass(frozen=True, kw_only=True)
class Reveal:
    revealed_at: datetime
    mapping: list[Revealed]


def reveal(database: Database, *, conversation_id: str) -> Reveal:
    """Say which model is behind each label, with the votes each received; closes voting.

    Revealing again changes nothing and answers the same. An open conversation is a Conflict.
    """
    with database.session() as session:
        conversation = repository.mark_revealed(session, conversation_id=conversation_id)
        turns = repository.list_turns(session, conversation_id=conversation_id)
        votes = vote_store.list_votes(session, conversation_id=conversation_id)
        owner = {response.id: response.instance_id for turn in turns for response in turn.responses}
        thumbs = Counter((owner.get(vote.response_id or -1), vote.value) for vote in votes if vote.kind == "thumb")
        pairwise = [vote for vote in votes if vote.kind == "pairwise"]
        wins = Counter(_winner(vote.value, vote.instance_a, vote.instance_b) for vote in pairwise)
        assert conversation.revealed_at is not None  # just marked
        return Reveal(
            revealed_at=conversation.revealed_at,
            mapping=[
                Revealed(
                    label=member.blind_label,
                    settings=instance_settings(member),
                    up=thumbs[(member.instance_id, "up")],
                    down=thumbs[(member.instance_id, "down")],
                    pairwise_wins=wins[member.instance_id],
                )
                for member in members(conversation)
            ],
        )


def _winner(value: str, instance_a: str | None, instance_b: str | None) -> str | None:
    return {"A": instance_a, "B": instance_b}.get(value)
