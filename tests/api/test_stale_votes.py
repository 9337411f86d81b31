"""A vote names the answers its voter saw; one about an answer regenerated since is refused with a
409 that says so (and records nothing). A vote naming no answer goes on the latest, as before."""

from __future__ import annotations

from typing import Any

import pytest

from arena.storage import repository
from arena.storage import votes as vote_store
from arena.storage.db import Database
from tests.support.builders import SeededTurn, seed_turn
from tests.support.fixtures import ArenaFactory, arena_database
from tests.support.server import RunningArena

MODELS = ["ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"]
STALE = "the answer of Model A you voted on was replaced by a newer one"


@pytest.fixture(scope="module")
def arena(module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(embedded_enabled=False)


database = arena_database


def regenerate(database: Database, turn: SeededTurn, n: int) -> int:
    """What a regenerate in another tab leaves: a newer finished answer of instance `n`."""
    with database.session() as session:
        response = repository.start_response(
            session, turn_id=turn.turn_id, instance_id=turn.instance_ids[n], generation_round=1
        )
        repository.finish_response(session, response_id=response.id, text="a newer answer", status="ok")
        return response.id


def vote(arena: RunningArena, turn: SeededTurn, **body: Any) -> Any:
    with arena.client() as client:
        return client.post(f"/api/conversations/{turn.conversation_id}/votes", json={"turn_id": turn.turn_id, **body})


def stored(database: Database, turn: SeededTurn) -> list[tuple[str, str, int | None]]:
    with database.session() as session:
        votes = vote_store.list_votes(session, conversation_id=turn.conversation_id)
        return [(v.kind, v.value, v.response_id) for v in votes]


def test_a_vote_on_an_answer_replaced_since_is_refused_and_the_current_one_is_taken(
    arena: RunningArena, database: Database
) -> None:
    turn = seed_turn(database, models=MODELS, blind=True)
    seen_a, seen_b = turn.response_ids
    newer_a = regenerate(database, turn, 0)

    thumb = vote(arena, turn, kind="thumb", key="Model A", value="up", response_id=seen_a)
    pairwise = vote(arena, turn, kind="pairwise", value="A", response_ids=[seen_a, seen_b])

    for refused in (thumb, pairwise):
        assert refused.status_code == 409
        assert refused.json()["reason"] == "stale_answer"
        assert refused.json()["error"].startswith(STALE)
    assert stored(database, turn) == []

    # Naming the answers shown now, the votes count.
    assert vote(arena, turn, kind="thumb", key="Model A", value="up", response_id=newer_a).status_code == 201
    assert vote(arena, turn, kind="pairwise", value="A", response_ids=[newer_a, seen_b]).status_code == 201
    assert stored(database, turn) == [("thumb", "up", newer_a), ("pairwise", "A", None)]


def test_a_vote_naming_no_answer_goes_on_the_latest_as_before(arena: RunningArena, database: Database) -> None:
    turn = seed_turn(database, models=MODELS, blind=True)
    newer_b = regenerate(database, turn, 1)

    assert vote(arena, turn, kind="thumb", key="Model B", value="down").status_code == 201
    assert vote(arena, turn, kind="pairwise", value="tie").status_code == 201
    assert stored(database, turn) == [("thumb", "down", newer_b), ("pairwise", "tie", None)]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"kind": "thumb", "key": "Model A", "value": "up", "response_id": "second"}, 4, "response_id"),
        ({"kind": "pairwise", "value": "A", "response_ids": [1]}, 4, "response_ids"),
        ({"kind": "pairwise", "value": "A", "response_ids": [1, 2, 3]}, 4, "response_ids"),
    ],
)
def test_malformed_answer_ids_get_a_clear_4xx(
    arena: RunningArena, database: Database, body: dict[str, Any], status: int, message: str
) -> None:
    turn = seed_turn(database, models=MODELS, blind=True)
    response = vote(arena, turn, **body)
    assert response.status_code // 100 == status
    assert message in response.json()["error"]


def test_an_answer_of_another_instance_is_a_400_not_a_vote(arena: RunningArena, database: Database) -> None:
    turn = seed_turn(database, models=MODELS, blind=True)
    seen_a, seen_b = turn.response_ids

    response = vote(arena, turn, kind="thumb", key="Model A", value="up", response_id=seen_b)

    assert response.status_code == 400
    assert response.json()["error"] == f"response {seen_b} is not an answer of Model A to turn {turn.turn_id}"
    assert stored(database, turn) == []
