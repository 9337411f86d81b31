from __future__ import annotations

import pytest

from arena.errors import Conflict, InvalidInput, NotFound
from arena.storage import repository
from arena.storage.db import Database
from tests.support.builders import add_instance

INSTANCE_ID = "local:smollm2-135m-instruct__0.7_0.9_40_1.1_-1_0"
SETTINGS = {
    "model": "local:smollm2-135m-instruct",
    "temperature": 0.7,
    "top_p": 0.9,
    "top_k": 40,
    "repeat_penalty": 1.1,
    "num_predict": -1,
    "seed": 0,
}


def test_upsert_stores_the_instance_once_and_returns_it_again(database: Database) -> None:
    with database.session() as session:
        first = repository.upsert_instance(session, instance_id=INSTANCE_ID, **SETTINGS)
    with database.session() as session:
        second = repository.upsert_instance(session, instance_id=INSTANCE_ID, **SETTINGS)

    assert second.id == first.id == INSTANCE_ID
    assert second.created_at == first.created_at
    assert {name: getattr(second, name) for name in SETTINGS} == SETTINGS


def test_same_instance_id_with_other_settings_is_a_conflict(database: Database) -> None:
    with database.session() as session:
        repository.upsert_instance(session, instance_id=INSTANCE_ID, **SETTINGS)

    with pytest.raises(Conflict), database.session() as session:
        repository.upsert_instance(session, instance_id=INSTANCE_ID, **{**SETTINGS, "temperature": 1.5})


def test_conversation_instances_keep_their_display_order_and_labels(database: Database) -> None:
    with database.session() as session:
        conversation = repository.create_conversation(session, title="three-way")
        ids = [add_instance(session, temperature=t).id for t in (1.2, 0.2, 0.7)]
        repository.set_conversation_instances(
            session, conversation_id=conversation.id, instance_ids=ids, labels=["Model A", "Model B", "Model C"]
        )

    with database.session() as session:
        loaded = repository.get_conversation(session, conversation_id=conversation.id)

    assert [(m.instance_id, m.position, m.blind_label) for m in loaded.instances] == [
        (ids[0], 0, "Model A"),
        (ids[1], 1, "Model B"),
        (ids[2], 2, "Model C"),
    ]
    assert loaded.instances[0].instance.temperature == 1.2


def test_setting_instances_again_replaces_the_earlier_choice(database: Database) -> None:
    with database.session() as session:
        conversation = repository.create_conversation(session, title="switch")
        a, b, c = (add_instance(session, temperature=t).id for t in (0.1, 0.2, 0.3))
        repository.set_conversation_instances(
            session, conversation_id=conversation.id, instance_ids=[a, b], labels=["Model A", "Model B"]
        )
    with database.session() as session:
        repository.set_conversation_instances(
            session, conversation_id=conversation.id, instance_ids=[b, c], labels=["Model A", "Model B"]
        )

    with database.session() as session:
        loaded = repository.get_conversation(session, conversation_id=conversation.id)
    assert [(m.instance_id, m.blind_label) for m in loaded.instances] == [(b, "Model A"), (c, "Model B")]


@pytest.mark.parametrize(
    ("instance_count", "labels", "error"),
    [
        (2, ["Model A"], InvalidInput),  # one label short
        (0, [], InvalidInput),  # nobody takes part
        (2, ["Model A", "Model A"], InvalidInput),  # labels would not tell them apart
        (1, [""], InvalidInput),
        (1, ["x" * 33], InvalidInput),
    ],
)
def test_bad_instance_lists_are_refused(
    database: Database, instance_count: int, labels: list[str], error: type[Exception]
) -> None:
    with database.session() as session:
        conversation = repository.create_conversation(session, title="bad")
        ids = [add_instance(session, temperature=0.1 * (n + 1)).id for n in range(instance_count)]

    with pytest.raises(error), database.session() as session:
        repository.set_conversation_instances(session, conversation_id=conversation.id, instance_ids=ids, labels=labels)


def test_the_same_instance_twice_or_an_unknown_one_is_refused(database: Database) -> None:
    with database.session() as session:
        conversation = repository.create_conversation(session, title="bad")
        known = add_instance(session).id

    with pytest.raises(InvalidInput), database.session() as session:
        repository.set_conversation_instances(
            session, conversation_id=conversation.id, instance_ids=[known, known], labels=["Model A", "Model B"]
        )
    with pytest.raises(NotFound), database.session() as session:
        repository.set_conversation_instances(
            session, conversation_id=conversation.id, instance_ids=[known, "local:ghost__1"], labels=["A", "B"]
        )
