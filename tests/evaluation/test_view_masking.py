"""What a client may see of a conversation, in process: masked while blind, shown after the reveal.

The view is read from a database seeded with the builders; no server and no model. The reveal
is the storage layer's mark, so these tests pin the masking alone.
"""

from __future__ import annotations

from dataclasses import asdict

import pytest

from arena.errors import NotFound
from arena.evaluation.conversation.view import conversation_view, is_masked, mask_text, resolve_key
from arena.storage import repository
from arena.storage.db import Database
from tests.support.builders import SeededTurn, seed_turn

LLAMA, QWEN = "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"
ANSWERS = ["The sky scatters blue light.", "Rayleigh scattering."]
# An engine error that quotes the model by every name it goes by.
ERROR = "model 'qwen2.5:0.5b' (ollama:qwen2.5:0.5b, family qwen2.5) ran out of memory"


def seeded(database: Database, *, blind: bool) -> SeededTurn:
    """A turn answered by two instances; the second answered again (a regenerate), with an error
    that names its model."""
    turn = seed_turn(database, models=[LLAMA, QWEN], texts=ANSWERS, blind=blind, prompt="Why is the sky blue?")
    with database.session() as session:
        again = repository.start_response(session, turn_id=turn.turn_id, instance_id=turn.instance_ids[1])
        repository.finish_response(session, response_id=again.id, text="", status="error", error=ERROR)
    return turn


def reveal(database: Database, turn: SeededTurn) -> None:
    with database.session() as session:
        repository.mark_revealed(session, conversation_id=turn.conversation_id)


def everything_shown(database: Database, turn: SeededTurn) -> str:
    return repr(asdict(conversation_view(database, conversation_id=turn.conversation_id)))


def test_a_blind_conversation_shows_labels_and_never_a_model_name_or_id(database: Database) -> None:
    turn = seeded(database, blind=True)

    view = conversation_view(database, conversation_id=turn.conversation_id)

    assert (view.blind, view.masked) == (True, True)
    assert [(i.key, i.label, i.settings) for i in view.instances] == [
        ("Model A", "Model A", None),
        ("Model B", "Model B", None),
    ]
    (shown,) = view.turns
    assert [(r.key, r.instance_id) for r in shown.latest()] == [("Model A", None), ("Model B", None)]
    assert shown.latest()[1].error == "model 'Model B' (Model B, family Model B) ran out of memory"
    text = everything_shown(database, turn)
    for giveaway in ("llama", "qwen", *turn.instance_ids):
        assert giveaway not in text


def test_after_the_reveal_the_ids_settings_and_error_show(database: Database) -> None:
    turn = seeded(database, blind=True)
    reveal(database, turn)

    view = conversation_view(database, conversation_id=turn.conversation_id)

    assert (view.blind, view.masked) == (True, False)
    assert [i.key for i in view.instances] == turn.instance_ids
    assert [i.label for i in view.instances] == ["Model A", "Model B"]
    assert [i.settings["model"] for i in view.instances if i.settings] == [LLAMA, QWEN]
    assert [r.instance_id for r in view.turns[0].latest()] == turn.instance_ids
    assert view.turns[0].latest()[1].error == ERROR


def test_an_open_conversation_is_never_masked(database: Database) -> None:
    turn = seeded(database, blind=False)

    view = conversation_view(database, conversation_id=turn.conversation_id)

    assert view.masked is False
    assert [i.key for i in view.instances] == turn.instance_ids
    assert view.turns[0].latest()[1].error == ERROR


def test_a_masked_conversation_is_addressed_by_label_only_until_the_reveal(database: Database) -> None:
    turn = seeded(database, blind=True)
    with database.session() as session:
        conversation = repository.get_conversation(session, conversation_id=turn.conversation_id)
        assert is_masked(conversation)
        assert resolve_key(conversation, "Model B").instance_id == turn.instance_ids[1]
        with pytest.raises(NotFound):
            resolve_key(conversation, turn.instance_ids[1])  # an id would confirm a guess
    reveal(database, turn)
    with database.session() as session:
        conversation = repository.get_conversation(session, conversation_id=turn.conversation_id)
        assert not is_masked(conversation)
        assert resolve_key(conversation, turn.instance_ids[1]).blind_label == "Model B"
        assert resolve_key(conversation, "Model A").instance_id == turn.instance_ids[0]


@pytest.mark.parametrize(
    ("model", "text", "masked"),
    [
        ("ollama:llama3.2:1b", "ollama:llama3.2:1b failed", "Model A failed"),
        ("ollama:llama3.2:1b", "llama3.2:1b is not loaded", "Model A is not loaded"),
        ("ollama:llama3.2:1b", "pull llama3.2 first", "pull Model A first"),
        ("openai:lab/gpt-4o-mini", "lab/gpt-4o-mini: 429", "Model A: 429"),
        ("openai:lab/gpt-4o-mini", "gpt-4o-mini is busy", "Model A is busy"),
        ("ollama:q:1b", "q and 1b stay", "q and 1b stay"),  # names under three letters would mangle text
    ],
)
def test_mask_text_hides_every_name_of_the_model(model: str, text: str, masked: str) -> None:
    assert mask_text(text, label="Model A", instance_id="not-in-text", model=model) == masked


def test_mask_text_hides_the_instance_id_and_passes_no_text_through() -> None:
    instance = "ollama_llama3.2_1b__0.7_0.9_40_1.1_-1_0"
    assert mask_text(f"{instance} timed out", label="Model C", instance_id=instance, model=LLAMA) == "Model C timed out"
    assert mask_text(None, label="Model C", instance_id=instance, model=LLAMA) is None
    assert mask_text("", label="Model C", instance_id=instance, model=LLAMA) == ""
