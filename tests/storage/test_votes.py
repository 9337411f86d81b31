from __future__ import annotations

import pytest

from arena.errors import Conflict, InvalidInput, NotFound
from arena.storage import repository
from arena.storage import votes as vote_store
from arena.storage.db import Database
from arena.storage.models import Conversation, Turn
from tests.support.builders import add_conversation_with_instances, add_instance


def _answered_turn(database: Database, *, blind: bool = False) -> tuple[Conversation, Turn, list[str]]:
    """A conversation with three instances and one turn they have all answered."""
    with database.session() as session:
        conversation, instance_ids = add_conversation_with_instances(session, blind=blind, count=3)
        turn = repository.add_turn(session, conversation_id=conversation.id, user_text="Which is better?")
        for instance_id in instance_ids:
            response = repository.start_response(session, turn_id=turn.id, instance_id=instance_id)
            repository.finish_response(session, response_id=response.id, text=f"I am {instance_id}", status="ok")
    with database.session() as session:
        return conversation, repository.get_turn(session, turn_id=turn.id), instance_ids


def test_thumbs_and_pairwise_votes_are_recorded(database: Database) -> None:
    conversation, turn, (a, b, _) = _answered_turn(database, blind=True)
    first_response = turn.latest_responses()[a]

    with database.session() as session:
        thumb = vote_store.add_vote(
            session,
            conversation_id=conversation.id,
            turn_id=turn.id,
            kind="thumb",
            value="down",
            response_id=first_response.id,
        )
        battle = vote_store.add_vote(
            session,
            conversation_id=conversation.id,
            turn_id=turn.id,
            kind="pairwise",
            value="B",
            instance_a=a,
            instance_b=b,
            voter_id=3,
        )

    with database.session() as session:
        votes = vote_store.list_votes(session, conversation_id=conversation.id)
        pairwise = vote_store.list_votes(session, conversation_id=conversation.id, kind="pairwise")
    assert [(v.id, v.kind, v.value, v.response_id) for v in votes] == [
        (thumb.id, "thumb", "down", first_response.id),
        (battle.id, "pairwise", "B", None),
    ]
    assert [(v.instance_a, v.instance_b, v.voter_id) for v in pairwise] == [(a, b, 3)]
    assert votes[0].created_at <= votes[1].created_at


def test_voting_again_on_the_same_target_replaces_the_earlier_vote(database: Database) -> None:
    conversation, turn, (a, b, c) = _answered_turn(database)
    response_id = turn.latest_responses()[a].id
    votes = [
        {"kind": "thumb", "value": "up", "response_id": response_id},
        {"kind": "thumb", "value": "down", "response_id": response_id},  # changed my mind
        {"kind": "pairwise", "value": "A", "instance_a": a, "instance_b": b},
        {"kind": "pairwise", "value": "tie", "instance_a": b, "instance_b": a},  # same pair, swapped sides
        {"kind": "pairwise", "value": "both_bad", "instance_a": a, "instance_b": c},  # another pair
        {"kind": "thumb", "value": "up", "response_id": response_id, "voter_id": 9},  # another voter
    ]
    for vote in votes:
        with database.session() as session:
            vote_store.add_vote(session, conversation_id=conversation.id, turn_id=turn.id, **vote)

    with database.session() as session:
        stored = vote_store.list_votes(session, turn_id=turn.id)
    assert sorted((v.kind, v.value, v.voter_id) for v in stored) == [
        ("pairwise", "both_bad", None),
        ("pairwise", "tie", None),
        ("thumb", "down", None),
        ("thumb", "up", 9),
    ]


def test_a_blind_conversation_takes_no_votes_after_the_reveal(database: Database) -> None:
    conversation, turn, (a, b, _) = _answered_turn(database, blind=True)
    with database.session() as session:
        repository.mark_revealed(session, conversation_id=conversation.id)

    with pytest.raises(Conflict), database.session() as session:
        vote_store.add_vote(
            session,
            conversation_id=conversation.id,
            turn_id=turn.id,
            kind="pairwise",
            value="A",
            instance_a=a,
            instance_b=b,
        )
    with database.session() as session:
        assert vote_store.list_votes(session, conversation_id=conversation.id) == []


@pytest.mark.parametrize(
    "vote",
    [
        {"kind": "thumb", "value": "A"},
        {"kind": "pairwise", "value": "up"},
        {"kind": "star", "value": "5"},
        {"kind": "thumb", "value": "up"},  # no response named
        {"kind": "thumb", "value": "up", "instances": True},
        {"kind": "pairwise", "value": "A"},  # no instances named
        {"kind": "pairwise", "value": "A", "same_instance_twice": True},
        {"kind": "pairwise", "value": "A", "outsider": True},
    ],
    ids=lambda vote: "-".join(f"{key}={value}" for key, value in vote.items()),
)
def test_malformed_votes_are_refused_and_nothing_is_stored(database: Database, vote: dict[str, object]) -> None:
    conversation, turn, (a, b, _) = _answered_turn(database)
    with database.session() as session:  # recorded, but not taking part in this conversation
        outsider_id = add_instance(session, model="ollama:qwen2.5:0.5b").id
    arguments: dict[str, object] = {"kind": vote["kind"], "value": vote["value"]}
    if vote.get("instances"):
        arguments.update(response_id=turn.latest_responses()[a].id, instance_a=a, instance_b=b)
    if vote.get("same_instance_twice"):
        arguments.update(instance_a=a, instance_b=a)
    if vote.get("outsider"):
        arguments.update(instance_a=a, instance_b=outsider_id)

    with pytest.raises(InvalidInput), database.session() as session:
        vote_store.add_vote(session, conversation_id=conversation.id, turn_id=turn.id, **arguments)  # type: ignore[arg-type]

    with database.session() as session:
        assert vote_store.list_votes(session) == []


def test_votes_must_point_inside_their_conversation(database: Database) -> None:
    conversation, turn, (a, _, _) = _answered_turn(database)
    _, other_turn, (other_a, _, _) = _answered_turn(database)

    with database.session() as session:
        with pytest.raises(NotFound):  # turn of another conversation
            vote_store.add_vote(
                session,
                conversation_id=conversation.id,
                turn_id=other_turn.id,
                kind="thumb",
                value="up",
                response_id=other_turn.latest_responses()[other_a].id,
            )
        with pytest.raises(NotFound):  # response to another turn
            vote_store.add_vote(
                session,
                conversation_id=conversation.id,
                turn_id=turn.id,
                kind="thumb",
                value="up",
                response_id=other_turn.latest_responses()[other_a].id,
            )
        with pytest.raises(NotFound):
            vote_store.add_vote(
                session,
                conversation_id="0" * 32,
                turn_id=turn.id,
                kind="thumb",
                value="up",
                response_id=turn.latest_responses()[a].id,
            )
