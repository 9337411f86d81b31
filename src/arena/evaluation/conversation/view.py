"""Blind comparisons: what a client may see of a conversation, votes, and the reveal.

While a conversation is blind and not revealed it is *masked*: every instance is known only
by its label ("Model A"), which is also the key a client uses to address it; no model id,
instance id or setting leaves the server, not even inside an engine's error message. After
the reveal (and always for an open conversation) the key is the instance id. Votes close at
the reveal, so nobody can vote knowing which model is which.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from arena.errors import Conflict, InvalidInput, NotFound
from arena.evaluation.conversation.attachments import public_meta
from arena.storage import repository
from arena.storage import votes as vote_store
from arena.storage.db import Database
from arena.storage.models import Conversation, ConversationInstance, Response, Turn
from arena.storage.votes import VOTING_CLOSED

SETTING_NAMES: Final = ("temperature", "top_p", "top_k", "repeat_penalty", "num_predict", "seed")


def is_masked(conversation: Conversation) -> bool:
    return conversation.blind and conversation.revealed_at is None


def display_order(items: Sequence[Any], *, blind: bool, rng: random.Random | None = None) -> list[Any]:
    """A blind conversation shows its instances in a random order, chosen once at creation."""
    order = list(items)
    if blind:
        (rng or random.SystemRandom()).shuffle(order)
    return order


def members(conversation: Conversation) -> list[ConversationInstance]:
    """The instances taking part, in display order."""
    return sorted(conversation.instances, key=lambda member: member.position)


def key_of(member: ConversationInstance, *, masked: bool) -> str:
    return member.blind_label if masked else member.instance_id


def resolve_key(conversation: Conversation, key: str) -> ConversationInstance:
    """The instance a client addresses: by label, or by instance id once nothing is hidden."""
    masked = is_masked(conversation)
    for member in conversation.instances:
        if key == member.blind_label or (not masked and key == member.instance_id):
            return member
    raise NotFound(f"no model instance {key!r} in this conversation")


def mask_text(text: str | None, *, label: str, instance_id: str, model: str) -> str | None:
    """Hide the model's names (an engine error often quotes them) behind its label."""
    if not text:
        return text
    bare = model.split(":", 1)[1] if ":" in model else model  # the engine's own name
    untagged = bare.rsplit(":", 1)[0]  # llama3.2:1b -> llama3.2
    last = untagged.rsplit("/", 1)[-1]  # an OpenAI-compatible endpoint/model -> model
    for name in sorted({instance_id, model, bare, untagged, last}, key=len, reverse=True):
        if len(name) >= 3:
            text = text.replace(name, label)
    return text


# --- the view a client may see -------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class InstanceView:
    key: str
    label: str
    settings: dict[str, Any] | None  # instance_id, model and the six settings; None while masked


@dataclass(frozen=True, kw_only=True)
class ResponseView:
    id: int
    key: str
    label: str
    position: int  # the instance's place in display order
    instance_id: str | None  # None while masked
    status: str
    text: str
    error: str | None
    prompt_tokens: int | None
    tokens: int | None
    ttft_s: float | None
    duration_s: float | None
    tokens_per_sec: float | None
    up: int
    down: int


@dataclass(frozen=True, kw_only=True)
class PairwiseView:
    turn_id: int
    value: str
    a: str  # labels
    b: str


@dataclass(frozen=True, kw_only=True)
class TurnView:
    id: int
    index: int
    system: str | None
    user_text: str
    attachments: list[dict[str, Any]]  # {filename, size}
    stored_attachments: list[dict[str, Any]] = field(repr=False)  # with the text, for exports
    responses: list[ResponseView]  # every answer, oldest first (a regenerate adds one)
    pairwise: list[PairwiseView]

    def latest(self) -> list[ResponseView]:
        """The answer that counts for each instance (the newest), in display order."""
        newest: dict[int, ResponseView] = {}
        for response in self.responses:
            newest[response.position] = response
        return [newest[position] for position in sorted(newest)]


@dataclass(frozen=True, kw_only=True)
class ConversationView:
    id: str
    title: str
    blind: bool
    masked: bool
    revealed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    instances: list[InstanceView]
    turns: list[TurnView]

    @property
    def pairwise_votes(self) -> list[PairwiseView]:
        return [vote for turn in self.turns for vote in turn.pairwise]


def instance_settings(member: ConversationInstance) -> dict[str, Any]:
    instance = member.instance
    return {
        "instance_id": member.instance_id,
        "model": instance.model,
        **{name: getattr(instance, name) for name in SETTING_NAMES},
    }


def conversation_view(database: Database, *, conversation_id: str) -> ConversationView:
    """The conversation as a client may see it now (masked while blind and not revealed)."""
    with database.session() as session:
        conversation = repository.get_conversation(session, conversation_id=conversation_id)
        turns = repository.list_turns(session, conversation_id=conversation_id)
        votes = vote_store.list_votes(session, conversation_id=conversation_id)
        return _build_view(conversation, turns, votes)


def _build_view(conversation: Conversation, turns: list[Turn], votes: list[Any]) -> ConversationView:
    masked = is_masked(conversation)
    by_id = {member.instance_id: member for member in members(conversation)}
    thumbs = Counter((vote.response_id, vote.value) for vote in votes if vote.kind == "thumb")

    def response_view(response: Response) -> ResponseView | None:
        member = by_id.get(response.instance_id)
        if member is None:  # cannot happen through the API; never show an unlabelled answer
            return None
        error = response.error
        if masked:
            error = mask_text(
                error, label=member.blind_label, instance_id=member.instance_id, model=member.instance.model
            )
        return ResponseView(
            id=response.id,
            key=key_of(member, masked=masked),
            label=member.blind_label,
            position=member.position,
            instance_id=None if masked else member.instance_id,
            status=response.status,
            text=response.text,
            error=error,
            prompt_tokens=response.prompt_tokens,
            tokens=response.completion_tokens,
            ttft_s=response.ttft_s,
            duration_s=response.duration_s,
            tokens_per_sec=response.tokens_per_sec,
            up=thumbs[(response.id, "up")],
            down=thumbs[(response.id, "down")],
        )

    def label(instance_id: str | None) -> str:
        member = by_id.get(instance_id or "")
        return member.blind_label if member else "?"

    turn_views = [
        TurnView(
            id=turn.id,
            index=turn.index,
            system=turn.system,
            user_text=turn.user_text,
            attachments=public_meta(turn.attachments),
            stored_attachments=list(turn.attachments or []),
            responses=[view for view in map(response_view, turn.responses) if view is not None],
            pairwise=[
                PairwiseView(turn_id=turn.id, value=vote.value, a=label(vote.instance_a), b=label(vote.instance_b))
                for vote in votes
                if vote.kind == "pairwise" and vote.turn_id == turn.id
            ],
        )
        for turn in turns
    ]
    return ConversationView(
        id=conversation.id,
        title=conversation.title,
        blind=conversation.blind,
        masked=masked,
        revealed_at=conversation.revealed_at,
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
        instances=[
            InstanceView(
                key=key_of(member, masked=masked),
                label=member.blind_label,
                settings=None if masked else instance_settings(member),
            )
            for member in by_id.values()
        ],
        turns=turn_views,
    )


# --- votes and the reveal -------------------------------------------------------------------


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
