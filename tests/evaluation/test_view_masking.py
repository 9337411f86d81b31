"""What a client may see of a conversation, in process: masked while blind, shown after the reveal.

The view is read from a database seeded with the builders; no server and no model. The reveal
is the storage layer's mark, so these tests pin the masking alone.
"""

from __future__ import annotations

from dataclasses import asdict

import pytest

from arena.errors import NotFound
from arena.evaluation.conversation.view import (
    MASKED_ERRORS,
    MASKED_SUFFIX,
    conversation_view,
    is_masked,
    masked_error,
    resolve_key,
)
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
    assert shown.latest()[1].error == "the answer failed (the details show after the reveal)"
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
    ("status", "error", "shown"),
    [
        ("error", "no OpenAI-compatible server at http://127.0.0.1:8011/v1 (endpoint 'lcpp'): is it running?",
         "its engine could not be reached or was busy"),
        ("error", "Ollama is not running at http://gpu-box:11434: start it with `ollama serve`",
         "its engine could not be reached or was busy"),
        ("error", "endpoint 'lab' at https://lab.example/v1 sent nothing for 30 s (REQUEST_TIMEOUT)",
         "no complete answer in time"),
        ("error", "no complete answer within 300 s (REQUEST_TIMEOUT)", "no complete answer in time"),
        ("error", "the conversation is longer than the 2048 tokens of context every embedded model gets",
         "the conversation is too long for this model"),
        ("error", "model 'gpt-4o-mini' is not available at endpoint 'lab' (HTTP 404: no such model)",
         "its engine refused the request"),
        ("error", "model 'qwen2.5:0.5b' is not pulled: run `ollama pull qwen2.5:0.5b`", "its engine refused the request"),
        ("error", "could not load /models/qwen2.5-0.5b-q4.gguf (1 234 567 bytes)", "the answer failed"),
        ("error", None, "the answer failed"),
    ],
)  # fmt: skip
def test_a_masked_error_is_a_fixed_sentence_per_kind_never_the_engine_words(
    status: str, error: str | None, shown: str
) -> None:
    assert masked_error(status, error) == f"{shown} (the details show after the reveal)"


def test_a_masked_stop_says_so_and_a_finished_answer_has_no_error() -> None:
    assert masked_error("stopped", "stopped before the answer finished") == "stopped before the answer finished"
    assert masked_error("ok", None) is None


def test_no_masked_error_can_quote_what_it_was_given() -> None:
    """Safe by construction: whatever the engine wrote, the sentence is one of a fixed few."""
    fixed = {sentence + suffix for sentence in MASKED_ERRORS.values() for suffix in ("", MASKED_SUFFIX)}
    for error in (ERROR, "a" * 500, "http://10.0.0.7:9/v1 refused", "timed out at /srv/qwen.gguf", ""):
        for status in ("error", "stopped"):
            assert masked_error(status, error) in fixed
