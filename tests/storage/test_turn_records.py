"""record_turn: a whole new turn written in one go, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from arena.errors import NotFound
from arena.storage import repository
from arena.storage.db import Database
from arena.storage.turn_records import InstanceRecord, record_turn

SETTINGS = {"temperature": 0.7, "top_p": 0.9, "top_k": 40, "repeat_penalty": 1.1, "num_predict": -1, "seed": 0}


def instance(name: str) -> InstanceRecord:
    return InstanceRecord(instance_id=f"{name}__0.7_0.9_40_1.1_-1_0", model=name, settings=SETTINGS)


def label(n: int) -> str:
    return f"Model {chr(ord('A') + n)}"


def record(database: Database, conversation_id: str | None, *names: str, text: str = "hi") -> object:
    with database.session() as session:
        return record_turn(
            session,
            conversation_id=conversation_id,
            title=text,
            untitled="New conversation",
            instances=[instance(n) for n in names],
            user_text=text,
            system=None,
            attachments=None,
            label_for=label,
        )


def test_first_turn_creates_everything_streaming(database: Database) -> None:
    recorded = record(database, None, "local:a", "local:b", text="  Compare these  ")
    with database.session() as session:
        conversation = repository.get_conversation(session, conversation_id=recorded.conversation_id)
        [turn] = repository.list_turns(session, conversation_id=recorded.conversation_id)
        assert conversation.title == "Compare these"
        assert [(m.position, m.blind_label) for m in sorted(conversation.instances, key=lambda m: m.position)] == [
            (0, "Model A"),
            (1, "Model B"),
        ]
        assert turn.index == 0 and turn.user_text == "  Compare these  "
        assert sorted(r.id for r in turn.responses) == sorted(recorded.response_ids.values())
        assert {r.status for r in turn.responses} == {"streaming"}
    assert recorded.masked is False


def test_next_turn_continues_and_newcomers_join_after_members(database: Database) -> None:
    first = record(database, None, "local:a")
    second = record(database, first.conversation_id, "local:b", "local:a", text="more")
    assert second.conversation_id == first.conversation_id
    assert second.labels == {instance("local:a").instance_id: "Model A", instance("local:b").instance_id: "Model B"}
    with database.session() as session:
        turns = repository.list_turns(session, conversation_id=first.conversation_id)
    assert [t.index for t in turns] == [0, 1]


def test_unknown_conversation_writes_nothing(database: Database) -> None:
    with pytest.raises(NotFound):
        record(database, "0" * 32, "local:a")
    with database.session() as session:
        assert repository.list_conversations(session) == []
