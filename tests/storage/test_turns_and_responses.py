from __future__ import annotations

import pytest
from sqlalchemy import text

from arena.errors import Conflict, InvalidInput, NotFound
from arena.storage import repository
from arena.storage.db import Database
from tests.support.builders import add_conversation_with_instances


def test_turn_indexes_count_up_within_each_conversation(database: Database) -> None:
    with database.session() as session:
        first, _ = add_conversation_with_instances(session, title="first")
        second, _ = add_conversation_with_instances(session, title="second")
    for n in range(3):
        with database.session() as session:
            repository.add_turn(session, conversation_id=first.id, user_text=f"question {n}")
    with database.session() as session:
        repository.add_turn(session, conversation_id=second.id, user_text="other")

    with database.session() as session:
        turns = repository.list_turns(session, conversation_id=first.id)
        other = repository.list_turns(session, conversation_id=second.id)

    assert [(turn.index, turn.user_text) for turn in turns] == [(0, "question 0"), (1, "question 1"), (2, "question 2")]
    assert [turn.index for turn in other] == [0]


def test_turn_keeps_system_prompt_and_attachment_metadata(database: Database) -> None:
    attachments = [{"name": "notes.txt", "type": "text/plain", "bytes": 1234, "sha256": "ab" * 32}]
    with database.session() as session:
        conversation, _ = add_conversation_with_instances(session)
        repository.add_turn(
            session, conversation_id=conversation.id, user_text="Summarise", system="Be brief.", attachments=attachments
        )
        repository.add_turn(session, conversation_id=conversation.id, user_text="plain")

    with database.session() as session:
        with_extras, plain = repository.list_turns(session, conversation_id=conversation.id)
        null_rows = session.scalar(text("SELECT count(*) FROM turns WHERE attachments IS NULL"))

    assert (with_extras.system, with_extras.attachments) == ("Be brief.", attachments)
    assert (plain.system, plain.attachments) == (None, None)
    assert null_rows == 1  # no attachments is SQL NULL, not the JSON text 'null'


def test_adding_a_turn_to_an_unknown_conversation_is_not_found(database: Database) -> None:
    with pytest.raises(NotFound), database.session() as session:
        repository.add_turn(session, conversation_id="f" * 32, user_text="hello?")


def test_a_response_is_saved_while_streaming_and_then_finished(database: Database) -> None:
    with database.session() as session:
        conversation, (instance_id, _) = add_conversation_with_instances(session)
        turn = repository.add_turn(session, conversation_id=conversation.id, user_text="Count to three")
        started = repository.start_response(session, turn_id=turn.id, instance_id=instance_id)
    assert (started.status, started.text, started.finished_at) == ("streaming", "", None)

    for partial in ("One", "One, two"):
        with database.session() as session:
            repository.update_response_text(session, response_id=started.id, text=partial)
        with database.session() as session:
            seen = repository.get_response(session, response_id=started.id)
        assert (seen.status, seen.text) == ("streaming", partial)

    with database.session() as session:
        finished = repository.finish_response(
            session,
            response_id=started.id,
            text="One, two, three.",
            status="ok",
            prompt_tokens=12,
            completion_tokens=6,
            ttft_s=0.25,
            duration_s=1.5,
            tokens_per_sec=4.8,
        )

    with database.session() as session:
        (stored_turn,) = repository.list_turns(session, conversation_id=conversation.id)
    (stored,) = stored_turn.responses
    assert stored.id == finished.id
    assert (stored.status, stored.text, stored.error) == ("ok", "One, two, three.", None)
    assert (stored.prompt_tokens, stored.completion_tokens) == (12, 6)
    assert (stored.ttft_s, stored.duration_s, stored.tokens_per_sec) == (0.25, 1.5, 4.8)
    assert stored.finished_at is not None and stored.finished_at >= stored.started_at


def test_a_finished_response_cannot_be_changed_again(database: Database) -> None:
    with database.session() as session:
        conversation, (instance_id, _) = add_conversation_with_instances(session)
        turn = repository.add_turn(session, conversation_id=conversation.id, user_text="hi")
        response = repository.start_response(session, turn_id=turn.id, instance_id=instance_id)
        repository.finish_response(session, response_id=response.id, text="partial", status="stopped")

    with pytest.raises(Conflict), database.session() as session:
        repository.update_response_text(session, response_id=response.id, text="late chunk")
    with pytest.raises(Conflict), database.session() as session:
        repository.finish_response(session, response_id=response.id, text="again", status="ok")
    with database.session() as session:
        stored = repository.get_response(session, response_id=response.id)
    assert (stored.status, stored.text) == ("stopped", "partial")


def test_finishing_needs_a_final_status_and_an_error_message_for_errors(database: Database) -> None:
    with database.session() as session:
        conversation, (instance_id, _) = add_conversation_with_instances(session)
        turn = repository.add_turn(session, conversation_id=conversation.id, user_text="hi")
        response = repository.start_response(session, turn_id=turn.id, instance_id=instance_id)

    with database.session() as session:
        with pytest.raises(InvalidInput):
            repository.finish_response(session, response_id=response.id, text="", status="streaming")
        with pytest.raises(InvalidInput):
            repository.finish_response(session, response_id=response.id, text="", status="error")
        failed = repository.finish_response(
            session, response_id=response.id, text="half an ans", status="error", error="engine went away"
        )
    assert (failed.status, failed.text, failed.error) == ("error", "half an ans", "engine went away")


def test_unknown_ids_are_not_found(database: Database) -> None:
    with database.session() as session:
        conversation, (instance_id, _) = add_conversation_with_instances(session)
        turn = repository.add_turn(session, conversation_id=conversation.id, user_text="hi")
        with pytest.raises(NotFound):
            repository.start_response(session, turn_id=turn.id + 1000, instance_id=instance_id)
        with pytest.raises(NotFound):
            repository.start_response(session, turn_id=turn.id, instance_id="local:ghost__1")
        with pytest.raises(NotFound):
            repository.update_response_text(session, response_id=999_999, text="x")
        with pytest.raises(NotFound):
            repository.finish_response(session, response_id=999_999, text="x", status="ok")
        with pytest.raises(NotFound):
            repository.get_turn(session, turn_id=turn.id + 1000)


def test_regenerating_adds_a_response_and_the_newest_counts(database: Database) -> None:
    with database.session() as session:
        conversation, (a, b) = add_conversation_with_instances(session)
        turn = repository.add_turn(session, conversation_id=conversation.id, user_text="Pick a number")
        for instance_id, answer in ((a, "3"), (b, "5"), (a, "7")):
            response = repository.start_response(session, turn_id=turn.id, instance_id=instance_id)
            repository.finish_response(session, response_id=response.id, text=answer, status="ok")

    with database.session() as session:
        stored = repository.get_turn(session, turn_id=turn.id)

    assert [response.text for response in stored.responses] == ["3", "5", "7"]
    assert {instance_id: r.text for instance_id, r in stored.latest_responses().items()} == {a: "7", b: "5"}


def test_recovery_stops_answers_left_streaming_and_keeps_their_text(database: Database) -> None:
    with database.session() as session:
        conversation, (a, b) = add_conversation_with_instances(session)
        turn = repository.add_turn(session, conversation_id=conversation.id, user_text="Tell a story")
        cut = repository.start_response(session, turn_id=turn.id, instance_id=a)
        repository.update_response_text(session, response_id=cut.id, text="Once upon a")
        done = repository.start_response(session, turn_id=turn.id, instance_id=b)
        repository.finish_response(session, response_id=done.id, text="The end.", status="ok")

    with database.session() as session:
        recovered = repository.recover_interrupted_responses(session)
    with database.session() as session:
        again = repository.recover_interrupted_responses(session)

    assert (recovered, again) == (1, 0)
    with database.session() as session:
        stopped = repository.get_response(session, response_id=cut.id)
        untouched = repository.get_response(session, response_id=done.id)
    assert (stopped.status, stopped.text) == ("stopped", "Once upon a")
    assert stopped.error == "the server stopped before the answer finished"
    assert stopped.finished_at is not None
    assert (untouched.status, untouched.text, untouched.error) == ("ok", "The end.", None)


def test_reads_in_the_same_session_see_responses_written_earlier_in_it(database: Database) -> None:
    with database.session() as session:
        conversation, (a, b) = add_conversation_with_instances(session)
        turn = repository.add_turn(session, conversation_id=conversation.id, user_text="hi")
        first = repository.start_response(session, turn_id=turn.id, instance_id=a)
        repository.update_response_text(session, response_id=first.id, text="Hel")
        repository.start_response(session, turn_id=turn.id, instance_id=b)

        (listed,) = repository.list_turns(session, conversation_id=conversation.id)
        fetched = repository.get_turn(session, turn_id=turn.id)
        seen = repository.get_response(session, response_id=first.id)

    assert [r.instance_id for r in listed.responses] == [a, b]
    assert [r.instance_id for r in fetched.responses] == [a, b]
    assert seen.text == "Hel"
