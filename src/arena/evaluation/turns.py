"""Prepare one turn of a conversation: the messages each instance sees, and its records."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from arena.engines.base import Message
from arena.evaluation.compare import Target
from arena.evaluation.instances import ModelInstance
from arena.errors import InvalidInput
from arena.storage import repository
from arena.storage.db import Database

TITLE_LENGTH = 60


@dataclass(frozen=True, kw_only=True)
class PreparedTurn:
    conversation_id: str
    turn_id: int
    targets: list[Target]


def build_messages(
    *, history: list[Message], message: str | None, system: str | None, history_limit: int
) -> list[Message]:
    """History (the newest `history_limit` messages), then the new message; one system prompt first."""
    messages = [m for m in history if m.role != "system"]
    if message is not None and message.strip():
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


def stored_context(database: Database, *, conversation_id: str, instance_id: str) -> list[Message]:
    """Earlier turns as this instance saw them: each instance keeps its own context."""
    with database.session() as session:
        turns = repository.list_turns(session, conversation_id=conversation_id)
        context: list[Message] = []
        for turn in turns:
            context.append(Message(role="user", content=turn.user_text))
            answers = [r for r in turn.responses if r.instance_id == instance_id and r.text]
            if answers:
                context.append(Message(role="assistant", content=answers[-1].text))
        return context


def prepare_turn(
    *,
    database: Database,
    instances: list[ModelInstance],
    history: list[Message],
    message: str | None,
    system: str | None,
    conversation_id: str | None,
    history_limit: int,
    owner_id: int | None = None,
) -> PreparedTurn:
    """Create (or continue) the conversation and write the turn before anything streams."""
    shared = build_messages(history=history, message=message, system=system, history_limit=history_limit)
    user_text = shared[-1].content
    system_text = shared[0].content if shared[0].role == "system" else None
    per_instance: dict[str, list[Message]] = {}
    if conversation_id is not None and not [m for m in history if m.role != "system"]:
        # Only a new message was sent: continue each instance from its own stored answers.
        for instance in instances:
            context = stored_context(database, conversation_id=conversation_id, instance_id=instance.instance_id)
            convo = (context + [Message(role="user", content=user_text)])[-history_limit:]
            per_instance[instance.instance_id] = (
                [Message(role="system", content=system_text)] if system_text else []
            ) + convo
    with database.session() as session:
        if conversation_id is None:
            conversation = repository.create_conversation(
                session, title=_title(user_text), owner_id=owner_id
            )
            conversation_id = conversation.id
        else:
            repository.get_conversation(session, conversation_id=conversation_id)
        for instance in instances:
            o = instance.options
            repository.upsert_instance(
                session,
                instance_id=instance.instance_id,
                model=instance.model,
                temperature=o.temperature,
                top_p=o.top_p,
                top_k=o.top_k,
                repeat_penalty=o.repeat_penalty,
                num_predict=o.num_predict,
                seed=o.seed,
            )
        _join_conversation(session, conversation_id, [i.instance_id for i in instances])
        turn = repository.add_turn(session, conversation_id=conversation_id, user_text=user_text, system=system_text)
        turn_id = turn.id
    targets = [
        Target(
            instance_id=i.instance_id,
            model=i.model,
            options=i.options,
            messages=per_instance.get(i.instance_id, shared),
        )
        for i in instances
    ]
    return PreparedTurn(conversation_id=conversation_id, turn_id=turn_id, targets=targets)


def blind_label(position: int) -> str:
    """Model A … Model Z, then Model AA …"""
    letters = ""
    position += 1
    while position:
        position, rest = divmod(position - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"Model {letters}"


def _join_conversation(session: Session, conversation_id: str, instance_ids: list[str]) -> None:
    """Add the instances that are new to the conversation, after those already in it."""
    conversation = repository.get_conversation(session, conversation_id=conversation_id)
    current = [ci.instance_id for ci in sorted(conversation.instances, key=lambda ci: ci.position)]
    labels = [ci.blind_label for ci in sorted(conversation.instances, key=lambda ci: ci.position)]
    new = [iid for iid in instance_ids if iid not in current]
    if not new:
        return
    taken = set(labels)
    for _ in new:
        label = next(blind_label(n) for n in range(len(taken) + len(new) + 1) if blind_label(n) not in taken)
        taken.add(label)
        labels.append(label)
    repository.set_conversation_instances(
        session, conversation_id=conversation_id, instance_ids=current + new, labels=labels
    )


def _title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1] + "…"
