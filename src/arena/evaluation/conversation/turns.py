"""Prepare one turn of a conversation: the messages each instance sees, and its records.

Two ways in: a new turn (to a new or an existing conversation), and a regenerate (one
instance answers an existing turn again, which adds a response to that turn and no new turn).
A conversation created up front, blind or not, starts in ``conversations``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from arena.engines.base import Message
from arena.errors import InvalidInput, NotFound
from arena.evaluation.conversation.attachments import Attachment, compose_message, from_stored
from arena.evaluation.conversation.compare import Target
from arena.evaluation.conversation.conversations import DEFAULT_TITLE, blind_label, stored_instance
from arena.evaluation.conversation.instances import ModelInstance
from arena.evaluation.conversation.view import is_masked, resolve_key
from arena.storage import repository
from arena.storage.db import Database
from arena.storage.models import SAMPLING_FIELDS, Conversation
from arena.storage.turn_records import InstanceRecord, record_turn

TITLE_LENGTH = 60


@dataclass(frozen=True, kw_only=True)
class PreparedTurn:
    conversation_id: str
    turn_id: int
    targets: list[Target]
    # Blind and not revealed: each instance is shown by its label only.
    masked: bool = False
    labels: dict[str, str] = field(default_factory=dict)  # instance id -> "Model A"
    # Responses written with the turn, "streaming" until the recorder finishes them.
    response_ids: dict[str, int] = field(default_factory=dict)
    # The client's own name of each instance (v3's `id`): a label to echo, never a stored key.
    client_ids: dict[str, str] = field(default_factory=dict)

    def key_of(self, instance_id: str, *, echo: bool = False) -> str:
        """What the client sees and uses to address the instance: the label while masked, else
        the client's own id when `echo` and it sent one, else the stored id."""
        if self.masked:
            return self.labels[instance_id]
        return self.client_ids.get(instance_id, instance_id) if echo else instance_id

    def aliases(self, instance_id: str) -> list[str]:
        """Every key a client may use for the instance (the label, and the ids when not masked)."""
        label = self.labels.get(instance_id)
        if self.masked:
            return [label] if label else []
        named = self.client_ids.get(instance_id)
        return list(dict.fromkeys([instance_id, *([named] if named else []), *([label] if label else [])]))


def build_messages(
    *, history: list[Message], message: str | None, system: str | None, history_limit: int
) -> list[Message]:
    """History (the newest `history_limit` messages), then the new message unless the history
    already ends with it (v3's page sends both); one system prompt first."""
    messages = [m for m in history if m.role != "system"]
    repeated = bool(messages) and messages[-1] == Message(role="user", content=message or "")
    if message is not None and message.strip() and not repeated:
        messages.append(Message(role="user", content=message))
    if not messages:
        raise InvalidInput("No messages: give a non-empty history or message")
    if messages[-1].role != "user":
        raise InvalidInput("The last message must come from the user")
    messages = messages[-history_limit:]
    system_text = system if system is not None else next((m.content for m in history if m.role == "system"), None)
    if system_text and system_text.strip():
        messages.insert(0, Message(role="system", content=system_text))
    return messages


def stored_context(
    database: Database, *, conversation_id: str, instance_id: str, before_index: int | None = None
) -> list[Message]:
    """Earlier turns as this instance saw them: each instance keeps its own context.

    ``before_index`` stops at that turn (a regenerate sees only what came before it).
    """
    with database.session() as session:
        turns = repository.list_turns(session, conversation_id=conversation_id)
        context: list[Message] = []
        for turn in turns:
            if before_index is not None and turn.index >= before_index:
                break
            context.append(Message(role="user", content=compose_message(turn.user_text, from_stored(turn.attachments))))
            answers = [r for r in turn.responses if r.instance_id == instance_id and r.text]
            if answers:
                context.append(Message(role="assistant", content=answers[-1].text))
        return context


@dataclass(frozen=True, kw_only=True)
class TurnPlan:
    """What a new turn will be, worked out without writing anything."""

    conversation_id: str | None  # None: the turn starts a new conversation
    instances: list[ModelInstance]  # in display order
    targets: list[Target]
    user_text: str
    system_text: str | None
    title: str
    attachments: list[dict[str, Any]] | None
    owner_id: int | None = None
    client_ids: dict[str, str] = field(default_factory=dict)


def plan_turn(
    *,
    database: Database,
    instances: list[ModelInstance],
    history: list[Message],
    message: str | None,
    system: str | None,
    conversation_id: str | None,
    history_limit: int,
    owner_id: int | None = None,
    attachments: Sequence[Attachment] = (),
) -> TurnPlan:
    """The messages each instance will see. Reads an existing conversation, writes nothing,
    so generation can start while `write_turn` records the turn."""
    typed = message or ""
    with_files = compose_message(typed, attachments) if attachments else message
    shared = build_messages(history=history, message=with_files, system=system, history_limit=history_limit)
    user_text = typed if attachments else shared[-1].content
    system_text = shared[0].content if shared[0].role == "system" else None
    per_instance: dict[str, list[Message]] = {}
    positions: dict[str, int] = {}
    if conversation_id is not None:
        with database.session() as session:
            conversation = repository.get_conversation(session, conversation_id=conversation_id)
            positions = {m.instance_id: m.position for m in conversation.instances}
        if not [m for m in history if m.role != "system"]:
            # Only a new message was sent: continue each instance from its own stored answers.
            for instance in instances:
                context = stored_context(database, conversation_id=conversation_id, instance_id=instance.instance_id)
                convo = (context + [shared[-1]])[-history_limit:]
                per_instance[instance.instance_id] = (
                    [Message(role="system", content=system_text)] if system_text else []
                ) + convo
    # Always in display order (members first, newcomers after, as they join): the order a
    # client listed them in must not pair labels with models.
    requested = {i.instance_id: n for n, i in enumerate(instances)}
    ordered = sorted(
        instances,
        key=lambda i: (i.instance_id not in positions, positions.get(i.instance_id, requested[i.instance_id])),
    )
    targets = [
        Target(
            instance_id=i.instance_id,
            model=i.model,
            options=i.options,
            messages=per_instance.get(i.instance_id, shared),
        )
        for i in ordered
    ]
    return TurnPlan(
        conversation_id=conversation_id,
        instances=ordered,
        targets=targets,
        user_text=user_text,
        system_text=system_text,
        title=_title(user_text) or _title(", ".join(a.filename for a in attachments)),
        attachments=[a.meta() for a in attachments] or None,
        owner_id=owner_id,
        client_ids={i.instance_id: i.id for i in instances if i.id},
    )


def write_turn(*, database: Database, plan: TurnPlan) -> PreparedTurn:
    """Create (or continue) the conversation, the turn and an empty response per instance,
    in one transaction: a turn is never half-written."""
    instances = [
        InstanceRecord(
            instance_id=i.instance_id,
            model=i.model,
            settings=i.options.model_dump(include=set(SAMPLING_FIELDS)),
        )
        for i in plan.instances
    ]
    with database.session() as session:
        recorded = record_turn(
            session,
            conversation_id=plan.conversation_id,
            title=plan.title,
            untitled=DEFAULT_TITLE,
            instances=instances,
            user_text=plan.user_text,
            system=plan.system_text,
            attachments=plan.attachments,
            label_for=blind_label,
            owner_id=plan.owner_id,
        )
    return PreparedTurn(
        conversation_id=recorded.conversation_id,
        turn_id=recorded.turn_id,
        targets=plan.targets,
        masked=recorded.masked,
        labels=recorded.labels,
        response_ids=recorded.response_ids,
        client_ids=plan.client_ids,
    )


def prepare_regenerate(
    *, database: Database, turn_id: int, key: str, history_limit: int, conversation_id: str | None = None
) -> PreparedTurn:
    """One instance answers an existing turn again; the recorder adds a response to that turn.

    ``conversation_id``, when given, must be the turn's own conversation.
    """
    with database.session() as session:
        turn = repository.get_turn(session, turn_id=turn_id)
        if conversation_id is not None and turn.conversation_id != conversation_id:
            raise NotFound(f"turn {turn_id} is not part of conversation {conversation_id!r}")
        conversation = repository.get_conversation(session, conversation_id=turn.conversation_id)
        member = resolve_key(conversation, key)
        instance = member.instance
        conversation_id, index, system_text = conversation.id, turn.index, turn.system
        question = Message(role="user", content=compose_message(turn.user_text, from_stored(turn.attachments)))
        masked, labels = is_masked(conversation), _labels(conversation)
    context = stored_context(
        database, conversation_id=conversation_id, instance_id=member.instance_id, before_index=index
    )
    messages = (context + [question])[-history_limit:]
    if system_text and system_text.strip():
        messages.insert(0, Message(role="system", content=system_text))
    model_instance = stored_instance(instance)
    target = Target(
        instance_id=member.instance_id, model=instance.model, options=model_instance.options, messages=messages
    )
    return PreparedTurn(
        conversation_id=conversation_id, turn_id=turn_id, targets=[target], masked=masked, labels=labels
    )


def _labels(conversation: Conversation) -> dict[str, str]:
    return {m.instance_id: m.blind_label for m in conversation.instances}


def _title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1] + "…"
