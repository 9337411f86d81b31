from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from arena.errors import NotFound
from arena.storage import repository
from arena.storage.db import Database
from arena.storage.models import Conversation, Response
from tests.support.builders import add_conversation_with_instances, add_instance


def _count(database: Database, table: str) -> int:
    with database.session() as session:
        return int(session.scalar(text(f"SELECT count(*) FROM {table}")))


def test_sqlite_file_and_missing_parent_folders_are_created(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there" / "arena.db"
    database = Database(url=f"sqlite:///{path}")
    try:
        database.migrate()
        assert path.is_file()
    finally:
        database.dispose()


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    database = Database(url=f"sqlite:///{tmp_path / 'arena.db'}")
    try:
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    finally:
        database.dispose()


def test_a_session_commits_when_the_block_succeeds(database: Database) -> None:
    with database.session() as session:
        created = repository.create_conversation(session, title="Kept")

    with database.session() as session:
        assert repository.get_conversation(session, conversation_id=created.id).title == "Kept"


def test_nothing_is_half_written_when_the_block_raises(database: Database) -> None:
    with pytest.raises(RuntimeError), database.session() as session:
        conversation = repository.create_conversation(session, title="Doomed")
        repository.add_turn(session, conversation_id=conversation.id, user_text="hello")
        raise RuntimeError("the caller failed after writing")

    assert _count(database, "conversations") == 0
    assert _count(database, "turns") == 0


def test_nothing_is_half_written_when_a_later_write_is_refused(database: Database) -> None:
    with pytest.raises(NotFound), database.session() as session:
        conversation = repository.create_conversation(session, title="Doomed")
        repository.set_conversation_instances(
            session, conversation_id=conversation.id, instance_ids=["local:nope__1"], labels=["Model A"]
        )

    assert _count(database, "conversations") == 0


def test_the_database_itself_refuses_an_impossible_status(database: Database) -> None:
    with database.session() as session:
        conversation, instance_ids = add_conversation_with_instances(session, count=1)
        turn = repository.add_turn(session, conversation_id=conversation.id, user_text="hi")

    with pytest.raises(IntegrityError), database.session() as session:
        session.add(Response(turn_id=turn.id, instance_id=instance_ids[0], status="half-done", text=""))
        session.flush()

    assert _count(database, "responses") == 0


def test_returned_records_stay_readable_after_the_session_closes(database: Database) -> None:
    with database.session() as session:
        conversation, instance_ids = add_conversation_with_instances(session)
    with database.session() as session:
        loaded = repository.get_conversation(session, conversation_id=conversation.id)

    assert [member.instance.id for member in loaded.instances] == instance_ids
    assert loaded.title == "Compare"


def test_timestamps_come_back_as_aware_utc(database: Database) -> None:
    before = datetime.now(UTC)
    with database.session() as session:
        conversation = repository.create_conversation(session, title="Clock")
    after = datetime.now(UTC)

    with database.session() as session:
        stored = session.scalars(select(Conversation)).one()

    assert stored.created_at.utcoffset() == timedelta(0)
    assert before <= stored.created_at <= after
    assert stored.created_at == conversation.created_at


def test_naive_datetimes_are_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"), database.session() as session:
        conversation = repository.create_conversation(session, title="Clock")
        conversation.revealed_at = datetime(2024, 1, 1, 12, 0)
        session.flush()


def test_several_threads_stream_into_their_own_responses_at_once(database: Database) -> None:
    """Side-by-side streaming: each model's thread saves its text while the others do too."""
    with database.session() as session:
        conversation, instance_ids = add_conversation_with_instances(session, count=4)
        turn = repository.add_turn(session, conversation_id=conversation.id, user_text="race")
        response_ids = [
            repository.start_response(session, turn_id=turn.id, instance_id=instance_id).id
            for instance_id in instance_ids
        ]
    steps = 15
    errors: list[BaseException] = []
    start = threading.Barrier(len(response_ids))

    def stream(response_id: int) -> None:
        try:
            start.wait()
            text_so_far = ""
            for step in range(steps):
                text_so_far += f"{response_id}:{step} "
                with database.session() as session:
                    repository.update_response_text(session, response_id=response_id, text=text_so_far)
            with database.session() as session:
                repository.finish_response(session, response_id=response_id, text=text_so_far, status="ok")
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=stream, args=(response_id,)) for response_id in response_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    with database.session() as session:
        for response_id in response_ids:
            response = repository.get_response(session, response_id=response_id)
            assert response.status == "ok"
            assert response.text.split() == [f"{response_id}:{step}" for step in range(steps)]


def test_recording_the_same_instance_from_several_threads_keeps_one_row(database: Database) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def record() -> None:
        try:
            start.wait()
            with database.session() as session:
                add_instance(session)
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=record) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert _count(database, "instances") == 1


def test_repr_hides_the_password() -> None:
    database = Database(url="postgresql+psycopg://arena:s3cret@db.example:5432/arena")
    try:
        assert "s3cret" not in repr(database)
    finally:
        database.dispose()
