"""Votes on a conversation's answers, and the reveal that closes voting.

A thumb goes on one instance's latest answer; a pairwise verdict compares the first two
instances (A and B in display order). A vote may name the answers its voter saw (the response
ids): when one is no longer its instance's latest answer (regenerated meanwhile, say in another
tab) the vote is refused with ``StaleAnswer`` rather than landing on a text nobody read. A vote
that names none goes on the latest answers, as before. Votes close at the reveal, so nobody can
vote knowing which model is which; the reveal says which model is behind each label, with its votes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
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


class StaleAnswer(Conflict):
    """The voter saw an answer that a regenerate has replaced since: the vote is not recorded."""


@dataclass(frozen=True, kw_only=True)
class CastVote:
    id: int
    kind: str
    value: str


def _finished_answer(turn: Turn, member: ConversationInstance, seen: int | None = None) -> Response:
    """The instance's latest answer, finished; `seen` (the response id the voter saw) must be it."""
    latest = turn.latest_responses().get(member.instance_id)
    if seen is not None:
        own = {r.id for r in turn.responses if r.instance_id == member.instance_id}
        if seen not in own:
            raise InvalidInput(f"response {seen} is not an answer of {member.blind_label} to turn {turn.id}")
        if latest is None or latest.id != seen:
            raise StaleAnswer(
                f"the answer of {member.blind_label} you voted on was replaced by a newer one (regenerated "
                "meanwhile): your vote was not recorded; read the new answer and vote again"
            )
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
    response_id: int | None = None,
    response_ids: Sequence[int] | None = None,
    category: str | None = None,
) -> CastVote:
    """A thumb on one instance's latest answer, or a pairwise verdict between the first two
    instances (A and B in display order). Voting again on the same target replaces the vote.

    `response_id` (a thumb) or `response_ids` (pairwise: A's, then B's) name the answers the
    voter saw; a vote about one that is no longer the latest raises ``StaleAnswer`` (409).
    ``category`` (the prompt's, as the voter names it) puts the vote on that category's leaderboard."""
    with database.session() as session:
        conversation = repository.get_conversation(session, conversation_id=conversation_id)
        if conversation.revealed_at is not None:
            raise Conflict(VOTING_CLOSED)
        turn = _turn_of(session, conversation_id=conversation_id, turn_id=turn_id)
        if kind == "thumb":
            if not key:
                raise InvalidInput("a thumb vote names the answer's `key`")
            answer = _finished_answer(turn, resolve_key(conversation, key), response_id)
            vote = vote_store.add_vote(
                session,
                conversation_id=conversation_id,
                turn_id=turn_id,
                kind="thumb",
                value=value,
                response_id=answer.id,
                voter_id=voter_id,
                category=category,
            )
        else:
            pair = members(conversation)
            if len(pair) != 2:
                raise InvalidInput(
                    f"a pairwise vote needs exactly two model instances; this conversation has {len(pair)}"
                )
            if response_ids is not None and len(response_ids) != 2:
                raise InvalidInput("response_ids names the two answers compared: A's, then B's")
            for member, seen in zip(pair, response_ids or (None, None), strict=True):
                _finished_answer(turn, member, seen)
            vote = vote_store.add_vote(
                session,
                conversation_id=conversation_id,
                turn_id=turn_id,
                kind="pairwise",
                value=value,
                instance_a=pair[0].instance_id,
                instance_b=pair[1].instance_id,
                voter_id=voter_id,
                category=category,
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
