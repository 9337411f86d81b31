"""A conversation as a whole: starting one, its instances in display order, their blind labels.

A blind conversation shuffles its instances once, when it is created, and names them
"Model A", "Model B" … by position; every later turn keeps that order and those labels
(``turns`` prepares the turns themselves, ``view`` what a client may see).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from arena.errors import Conflict
from arena.evaluation.conversation.instances import ModelInstance, check_instances
from arena.evaluation.conversation.view import members
from arena.storage import repository
from arena.storage.db import Database
from arena.storage.models import SAMPLING_FIELDS, Instance

DEFAULT_TITLE = "New conversation"  # replaced by the first message when no title was given


def display_order(items: Sequence[Any], *, blind: bool, rng: random.Random | None = None) -> list[Any]:
    """A blind conversation shows its instances in a random order, chosen once at creation."""
    order = list(items)
    if blind:
        (rng or random.SystemRandom()).shuffle(order)
    return order


def blind_label(position: int) -> str:
    """Model A … Model Z, then Model AA …"""
    letters = ""
    position += 1
    while position:
        position, rest = divmod(position - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"Model {letters}"


def _record_instances(session: Session, instances: Sequence[ModelInstance]) -> None:
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


def create_conversation(
    *,
    database: Database,
    instances: list[ModelInstance],
    title: str | None,
    blind: bool,
    max_instances: int,
    owner_id: int | None = None,
) -> str:
    """A new conversation with its instances; a blind one shuffles their order, once."""
    check_instances(instances, max_instances=max_instances)
    ordered = display_order(instances, blind=blind)
    with database.session() as session:
        conversation = repository.create_conversation(
            session, title=title if title is not None else DEFAULT_TITLE, blind=blind, owner_id=owner_id
        )
        _record_instances(session, ordered)
        repository.set_conversation_instances(
            session,
            conversation_id=conversation.id,
            instance_ids=[i.instance_id for i in ordered],
            labels=[blind_label(position) for position in range(len(ordered))],
        )
        return conversation.id


def stored_instance(instance: Instance) -> ModelInstance:
    """A stored instance row as the request model that names it."""
    return ModelInstance(model=instance.model, **{name: getattr(instance, name) for name in SAMPLING_FIELDS})


def turn_instances(
    database: Database, *, conversation_id: str, requested: list[ModelInstance]
) -> list[ModelInstance]:
    """Who answers a new turn of a stored conversation: the instances the client named, or, when
    it named none, the conversation's own, in display order.

    A masked conversation (blind, not yet revealed) takes none named: a member named would answer
    under its label and anyone else join as a new one, so naming instances would ask who is who.
    """
    with database.session() as session:
        conversation = repository.get_conversation(session, conversation_id=conversation_id)
        if not requested:
            return [stored_instance(m.instance) for m in members(conversation)]
        if conversation.is_masked:
            raise Conflict(
                f"conversation {conversation_id!r} is blind and not yet revealed: its own instances answer "
                "every turn, so send no model_instances (reveal it to change who answers)"
            )
        return requested
