"""Write a whole new turn in one go: the conversation (new or continued), its new instances,
the turn and an empty "streaming" response per instance.

This sits on the path to the first token, so it uses a handful of Core statements instead
of the ORM's unit of work (about a fifth of the time), built once with bound parameters and run
on the session's connection: nothing is rebuilt, coerced or keyed for the cache per turn (that
took as long again as the statements themselves).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arena.errors import Conflict, InvalidInput, NotFound
from arena.storage.models import (
    SAMPLING_FIELDS,
    TITLE_MAX_LENGTH,
    Conversation,
    ConversationInstance,
    Instance,
    Response,
    Turn,
    is_masked,
    new_conversation_id,
    utcnow,
)

_NEW_CONVERSATION = insert(Conversation)
_CONVERSATION = select(Conversation.title, Conversation.blind, Conversation.revealed_at).where(
    Conversation.id == bindparam("conversation_id")
)
_MEMBERS = select(
    ConversationInstance.instance_id, ConversationInstance.position, ConversationInstance.blind_label
).where(ConversationInstance.conversation_id == bindparam("conversation_id"))
_NEXT_INDEX = select(func.coalesce(func.max(Turn.index) + 1, 0)).where(
    Turn.conversation_id == bindparam("conversation_id")
)
_TOUCH = update(Conversation).where(Conversation.id == bindparam("conversation_id")).values(updated_at=bindparam("now"))
_TOUCH_AND_TITLE = _TOUCH.values(title=bindparam("new_title", type_=Conversation.title.type))  # its first turn
_KNOWN_INSTANCES = select(Instance.id).where(Instance.id.in_(bindparam("ids", expanding=True)))
_JOIN = insert(ConversationInstance)
_TURN = insert(Turn).returning(Turn.id)
_RESPONSES = insert(Response).returning(Response.id, sort_by_parameter_order=True)


@dataclass(frozen=True, kw_only=True)
class InstanceRecord:
    instance_id: str
    model: str
    settings: dict[str, float | int]  # the six hyperparameters, by name


@dataclass(frozen=True, kw_only=True)
class RecordedTurn:
    conversation_id: str
    turn_id: int
    response_ids: dict[str, int]  # instance id -> its new response
    labels: dict[str, str]  # instance id -> blind label, every member of the conversation
    masked: bool  # blind and not yet revealed


def record_turn(
    session: Session,
    *,
    conversation_id: str | None,
    title: str,
    untitled: str,
    instances: Sequence[InstanceRecord],
    user_text: str,
    system: str | None,
    attachments: list[dict[str, Any]] | None,
    label_for: Callable[[int], str],
    owner_id: int | None = None,
) -> RecordedTurn:
    """Record the next turn of `conversation_id`, or the first of a new conversation titled
    `title`. A continued conversation still called `untitled` takes `title` at its first turn.
    Instances new to the conversation join after its members, labelled by `label_for(n)`."""
    title = title.strip()[:TITLE_MAX_LENGTH] or untitled
    now = utcnow()
    connection = session.connection()
    if conversation_id is None:
        conversation_id = new_conversation_id()
        conversation = {"id": conversation_id, "title": title, "blind": False, "owner_id": owner_id}
        connection.execute(_NEW_CONVERSATION, {**conversation, "created_at": now, "updated_at": now})
        members: dict[str, tuple[int, str]] = {}
        index, masked = 0, False
    else:
        which = {"conversation_id": conversation_id}
        found = connection.execute(_CONVERSATION, which).one_or_none()
        if found is None:
            raise NotFound(f"conversation {conversation_id!r} does not exist")
        members = {row.instance_id: (row.position, row.blind_label) for row in connection.execute(_MEMBERS, which)}
        index = connection.execute(_NEXT_INDEX, which).scalar_one()
        masked = is_masked(blind=found.blind, revealed_at=found.revealed_at)
        if found.title == untitled and index == 0:
            connection.execute(_TOUCH_AND_TITLE, {**which, "now": now, "new_title": title})
        else:
            connection.execute(_TOUCH, {**which, "now": now})
    _add_instances(connection, instances, now=now)
    _join(connection, conversation_id, members, [i.instance_id for i in instances], label_for=label_for)
    turn = {"conversation_id": conversation_id, "index": index, "system": system, "user_text": user_text}
    try:
        turn_id = connection.execute(_TURN, {**turn, "attachments": attachments, "created_at": now}).scalar_one()
    except IntegrityError as exc:  # the unique (conversation_id, index) caught a concurrent turn
        raise Conflict("another turn was added to this conversation at the same moment; try again") from exc
    owner = session.info.get("process_id")  # the process streaming them (process_leases.py)
    host = session.info.get("process_host")  # its machine, kept after the lease goes (speed_figures.py)
    response = {"turn_id": turn_id, "status": "streaming", "text": "", "started_at": now, "owner_process": owner}
    response["host"] = host
    rows = [{**response, "instance_id": i.instance_id} for i in instances]
    ids = connection.execute(_RESPONSES, rows).scalars().all()
    response_ids = {i.instance_id: response_id for i, response_id in zip(instances, ids, strict=True)}
    return RecordedTurn(
        conversation_id=conversation_id,
        turn_id=turn_id,
        response_ids=response_ids,
        labels={iid: label for iid, (_position, label) in members.items()},
        masked=masked,
    )


def _add_instances(connection: Connection, instances: Sequence[InstanceRecord], *, now: Any) -> None:
    """Record instances not seen before; ids are deterministic, so a known id has these settings."""
    ids = [i.instance_id for i in instances]
    known = set(connection.execute(_KNOWN_INSTANCES, {"ids": ids}).scalars())
    new = [i for i in instances if i.instance_id not in known]
    for instance in new:
        if set(instance.settings) != set(SAMPLING_FIELDS):
            raise InvalidInput(f"instance {instance.instance_id!r} needs exactly {', '.join(SAMPLING_FIELDS)}")
    if new:
        # Another request may record the same new instance at the same moment: the first wins,
        # and since the id is derived from the settings, its row is this one.
        rows = [{"id": i.instance_id, "model": i.model, "created_at": now, **i.settings} for i in new]
        dialect = connection.dialect.name
        if dialect in ("sqlite", "postgresql"):
            upsert = sqlite_insert if dialect == "sqlite" else postgresql_insert
            connection.execute(upsert(Instance).on_conflict_do_nothing(index_elements=["id"]), rows)
        else:
            connection.execute(insert(Instance), rows)


def _join(
    connection: Connection,
    conversation_id: str,
    members: dict[str, tuple[int, str]],
    instance_ids: list[str],
    *,
    label_for: Callable[[int], str],
) -> None:
    """Newcomers join after the members, each with the first label nobody holds (updates `members`)."""
    newcomers = [iid for iid in instance_ids if iid not in members]
    if not newcomers:
        return
    taken = {label for _position, label in members.values()}
    position = max((p for p, _label in members.values()), default=-1) + 1
    candidate = 0
    rows = []
    for instance_id in newcomers:
        while label_for(candidate) in taken:
            candidate += 1
        label = label_for(candidate)
        taken.add(label)
        members[instance_id] = (position, label)
        rows.append(
            {"conversation_id": conversation_id, "instance_id": instance_id, "position": position, "blind_label": label}
        )
        position += 1
    try:
        connection.execute(_JOIN, rows)
    except IntegrityError as exc:  # another turn added the same newcomer at the same moment
        raise Conflict("another turn was added to this conversation at the same moment; try again") from exc
