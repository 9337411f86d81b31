from __future__ import annotations

import pytest
from sqlalchemy import text

from arena.errors import Conflict, InvalidInput, NotFound
from arena.storage import repository
from arena.storage import votes as vote_store
from arena.storage.db import Database
from arena.storage.models import TITLE_MAX_LENGTH
from tests.support.builders import add_conversation_with_instances


def _titles(database: Database, **filters: object) -> list[str]:
    with database.session() as session:
        return [conversation.title for conversation in repository.list_conversations(session, **filters)]


def test_created_conversation_reads_back_with_its_settings(database: Database) -> None:
    with database.session() as session:
        created = repository.create_conversation(session, title="  Poems  ", blind=True, owner_id=7)

    with database.session() as session:
        loaded = repository.get_conversation(session, conversation_id=created.id)

    assert len(loaded.id) == 32 and int(loaded.id, 16) >= 0
    assert (loaded.title, loaded.blind, loaded.owner_id) == ("Poems", True, 7)
    assert loaded.revealed_at is None
    assert loaded.created_at == loaded.updated_at
    assert loaded.instances == []


@pytest.mark.parametrize("title", ["", "   ", "x" * (TITLE_MAX_LENGTH + 1)])
def test_empty_or_overlong_titles_are_refused(database: Database, title: str) -> None:
    with pytest.raises(InvalidInput), database.session() as session:
        repository.create_conversation(session, title=title)


def test_unknown_conversation_is_not_found(database: Database) -> None:
    with database.session() as session:
        with pytest.raises(NotFound):
            repository.get_conversation(session, conversation_id="0" * 32)
        with pytest.raises(NotFound):
            repository.rename_conversation(session, conversation_id="0" * 32, title="x")
        with pytest.raises(NotFound):
            repository.delete_conversation(session, conversation_id="0" * 32)
        with pytest.raises(NotFound):
            repository.list_turns(session, conversation_id="0" * 32)


def test_list_shows_most_recently_active_first(database: Database) -> None:
    with database.session() as session:
        first = repository.create_conversation(session, title="first")
    with database.session() as session:
        repository.create_conversation(session, title="second")
    with database.session() as session:
        repository.create_conversation(session, title="third")
    assert _titles(database) == ["third", "second", "first"]

    with database.session() as session:
        repository.add_turn(session, conversation_id=first.id, user_text="back to this one")

    assert _titles(database) == ["first", "third", "second"]


def test_search_matches_part_of_the_title_ignoring_case(database: Database) -> None:
    with database.session() as session:
        for title in ("Rust lifetimes", "Élan vital", "Python TRUSTed types", "100% sure", "1000 sure"):
            repository.create_conversation(session, title=title)

    assert sorted(_titles(database, search="rust")) == ["Python TRUSTed types", "Rust lifetimes"]
    assert _titles(database, search="éLAN") == ["Élan vital"]
    assert _titles(database, search="0%") == ["100% sure"]  # % is a character, not a wildcard
    assert _titles(database, search="nothing like it") == []
    assert len(_titles(database, search="  ")) == 5


def test_list_pages_and_filters_by_owner(database: Database) -> None:
    with database.session() as session:
        for n in range(5):
            repository.create_conversation(session, title=f"mine {n}", owner_id=1)
        repository.create_conversation(session, title="theirs", owner_id=2)

    assert _titles(database, owner_id=2) == ["theirs"]
    mine = _titles(database, owner_id=1)
    assert len(mine) == 5
    assert _titles(database, owner_id=1, limit=2) == mine[:2]
    assert _titles(database, owner_id=1, limit=2, offset=2) == mine[2:4]
    assert _titles(database, owner_id=1, offset=5) == []
    with pytest.raises(InvalidInput):
        _titles(database, limit=0)
    with pytest.raises(InvalidInput):
        _titles(database, offset=-1)


def test_rename_changes_the_title_and_moves_it_up(database: Database) -> None:
    with database.session() as session:
        old = repository.create_conversation(session, title="old")
    with database.session() as session:
        repository.create_conversation(session, title="newer")
    with database.session() as session:
        renamed = repository.rename_conversation(session, conversation_id=old.id, title="renamed")

    assert renamed.updated_at > old.updated_at
    assert _titles(database) == ["renamed", "newer"]
    with pytest.raises(InvalidInput), database.session() as session:
        repository.rename_conversation(session, conversation_id=old.id, title=" ")


def test_delete_removes_the_conversation_and_everything_in_it(database: Database) -> None:
    with database.session() as session:
        doomed, instance_ids = add_conversation_with_instances(session, title="doomed")
        turn = repository.add_turn(session, conversation_id=doomed.id, user_text="hi")
        response = repository.start_response(session, turn_id=turn.id, instance_id=instance_ids[0])
        vote_store.add_vote(
            session, conversation_id=doomed.id, turn_id=turn.id, kind="thumb", value="up", response_id=response.id
        )
        kept, _ = add_conversation_with_instances(session, title="kept")
        repository.add_turn(session, conversation_id=kept.id, user_text="stay")

    with database.session() as session:
        repository.delete_conversation(session, conversation_id=doomed.id)

    with database.session() as session:
        assert _titles(database) == ["kept"]
        counts = {
            table: session.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in ("turns", "responses", "votes", "conversation_instances", "instances")
        }
    # Instances are shared records and outlive the conversations that used them.
    assert counts == {"turns": 1, "responses": 0, "votes": 0, "conversation_instances": 2, "instances": 2}


def test_reveal_is_recorded_once_and_only_for_blind_conversations(database: Database) -> None:
    with database.session() as session:
        blind = repository.create_conversation(session, title="blind", blind=True)
        open_ = repository.create_conversation(session, title="open")

    with database.session() as session:
        revealed = repository.mark_revealed(session, conversation_id=blind.id)
    with database.session() as session:
        again = repository.mark_revealed(session, conversation_id=blind.id)

    assert revealed.revealed_at is not None and revealed.is_revealed
    assert again.revealed_at == revealed.revealed_at
    with pytest.raises(Conflict), database.session() as session:
        repository.mark_revealed(session, conversation_id=open_.id)
