"""Small builders for the records most storage tests need."""

from __future__ import annotations

from sqlalchemy.orm import Session

from arena.storage import repository
from arena.storage.models import Conversation, Instance


def add_instance(session: Session, *, model: str = "local:smollm2-135m-instruct", temperature: float = 0.7) -> Instance:
    return repository.upsert_instance(
        session,
        instance_id=f"{model}__{temperature}_0.9_40_1.1_-1_0",
        model=model,
        temperature=temperature,
        top_p=0.9,
        top_k=40,
        repeat_penalty=1.1,
        num_predict=-1,
        seed=0,
    )


def add_conversation_with_instances(
    session: Session, *, title: str = "Compare", blind: bool = False, count: int = 2
) -> tuple[Conversation, list[str]]:
    """A conversation with ``count`` instances labelled Model A, Model B, ..."""
    conversation = repository.create_conversation(session, title=title, blind=blind)
    instance_ids = [add_instance(session, temperature=round(0.1 * (n + 1), 1)).id for n in range(count)]
    labels = [f"Model {chr(ord('A') + n)}" for n in range(count)]
    repository.set_conversation_instances(
        session, conversation_id=conversation.id, instance_ids=instance_ids, labels=labels
    )
    return conversation, instance_ids
