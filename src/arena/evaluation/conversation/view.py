"""What a client may see of a conversation, blind or not: the read model, masked while blind.

While a conversation is blind and not revealed it is *masked*: every instance is known only
by its label ("Model A"), which is also the key a client uses to address it; no model id,
instance id or setting leaves the server, and an error is a fixed sentence per kind
(``masked_error``), never the engine's words. After the reveal (and always for an open conversation) the key is the instance id. Votes and the
reveal itself are in ``votes``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from arena.errors import NotFound
from arena.evaluation.conversation.attachments import public_meta
from arena.storage import repository
from arena.storage import votes as vote_store
from arena.storage.db import Database
from arena.storage.models import SAMPLING_FIELDS, Conversation, ConversationInstance, Response, Turn


def is_masked(conversation: Conversation) -> bool:
    return conversation.is_masked


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


# While masked, an error is one of these sentences, never the engine's own words: those name
# endpoints, URLs, files, models and per-model counts in more ways than any list of names can
# catch. The kind is read from the stored words (the only record of it); a miss says "failed".
MASKED_ERRORS: dict[str, str] = {
    "timeout": "no complete answer in time",
    "too_long": "the conversation is too long for this model",
    "unreachable": "its engine could not be reached or was busy",
    "refused": "its engine refused the request",
    "stopped": "stopped before the answer finished",
    "failed": "the answer failed",
}
MASKED_SUFFIX = " (the details show after the reveal)"
_KINDS = (  # the first that matches wins: a timeout may mention a refused connection
    ("timeout", re.compile(r"REQUEST_TIMEOUT|timed out|time ?out|in time|within \S+ s\b", re.IGNORECASE)),
    ("too_long", re.compile(r"tokens of context|too long|context length|longer than", re.IGNORECASE)),
    ("unreachable", re.compile(
        r"is it running|not running|no connection|cannot talk|broke off|busy|rate-limited|unreachable",
        re.IGNORECASE,
    )),
    ("refused", re.compile(
        r"refused|rejected|not available|not pulled|not installed|not found|unknown model|API key", re.IGNORECASE
    )),
)  # fmt: skip


def error_kind(status: str, error: str | None) -> str:
    """Which of ``MASKED_ERRORS`` an ended answer's error is."""
    if status == "stopped":
        return "stopped"
    for kind, pattern in _KINDS:
        if error and pattern.search(error):
            return kind
    return "failed"


def masked_error(status: str, error: str | None) -> str | None:
    """The error a masked conversation shows: a fixed sentence, whatever the engine said."""
    if status in ("ok", "streaming") and not error:
        return error
    kind = error_kind(status, error)
    return MASKED_ERRORS[kind] + ("" if kind == "stopped" else MASKED_SUFFIX)


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
    cached_prompt_tokens: int | None
    prompt_s: float | None
    finish_reason: str | None
    wait_s: float | None
    load_s: float | None
    engine_timed: bool | None
    contended: bool | None  # another round's generation ran beside it: speed not compared
    generation_round: int  # answers of one round were generated together (0: with the turn)
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
    imported: bool = False  # made from an export file: its votes stay off the leaderboard
    turns: list[TurnView]

    @property
    def pairwise_votes(self) -> list[PairwiseView]:
        return [vote for turn in self.turns for vote in turn.pairwise]


def instance_settings(member: ConversationInstance) -> dict[str, Any]:
    instance = member.instance
    return {
        "instance_id": member.instance_id,
        "model": instance.model,
        **{name: getattr(instance, name) for name in SAMPLING_FIELDS},
    }


def conversation_view(database: Database, *, conversation_id: str, show_metrics: bool = False) -> ConversationView:
    """The conversation as a client may see it now (masked while blind and not revealed).

    While masked, an answer's metrics are left out unless the client asks (``show_metrics``):
    speed, token counts and cache state can tell models apart."""
    with database.session() as session:
        conversation = repository.get_conversation(session, conversation_id=conversation_id)
        turns = repository.list_turns(session, conversation_id=conversation_id)
        votes = vote_store.list_votes(session, conversation_id=conversation_id)
        return _build_view(conversation, turns, votes, show_metrics=show_metrics)


METRIC_COLUMNS = (
    "prompt_tokens", "completion_tokens", "ttft_s", "duration_s", "tokens_per_sec",
    "cached_prompt_tokens", "prompt_s", "finish_reason", "wait_s", "load_s", "engine_timed",
    "contended",
)  # fmt: skip


def _metrics(response: Response, *, hidden: bool) -> dict[str, Any]:
    values = {name: None if hidden else getattr(response, name) for name in METRIC_COLUMNS}
    values["tokens"] = values.pop("completion_tokens")
    return values


def _build_view(
    conversation: Conversation, turns: list[Turn], votes: list[Any], *, show_metrics: bool = False
) -> ConversationView:
    masked = is_masked(conversation)
    by_id = {member.instance_id: member for member in members(conversation)}
    thumbs = Counter((vote.response_id, vote.value) for vote in votes if vote.kind == "thumb")

    def response_view(response: Response) -> ResponseView | None:
        member = by_id.get(response.instance_id)
        if member is None:  # cannot happen through the API; never show an unlabelled answer
            return None
        error = response.error
        if masked:
            error = masked_error(response.status, error)
        return ResponseView(
            id=response.id,
            key=key_of(member, masked=masked),
            label=member.blind_label,
            position=member.position,
            instance_id=None if masked else member.instance_id,
            status=response.status,
            text=response.text,
            error=error,
            **_metrics(response, hidden=masked and not show_metrics),
            generation_round=response.generation_round or 0,
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
        imported=conversation.imported,
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
