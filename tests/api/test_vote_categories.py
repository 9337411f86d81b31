"""A vote names its prompt's category and counts on that category's leaderboard; a vote without one
(as every client before this sent) works unchanged. GET /api/leaderboard/next-pair proposes the
pair to vote on next, and the leaderboard says how many votes would separate neighbours."""

from __future__ import annotations

from typing import Any

import pytest

from arena.storage import votes as vote_store
from arena.storage.db import Database
from tests.support.builders import SeededTurn, pairwise_vote, seed_turn
from tests.support.fixtures import ArenaFactory, arena_database
from tests.support.server import RunningArena

pytestmark = pytest.mark.timeout(120)

ALPHA, BETA, GAMMA = "ollama:alpha", "ollama:beta", "ollama:gamma"


@pytest.fixture
def arena(arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(embedded_enabled=False)


database = arena_database


def vote(arena: RunningArena, turn: SeededTurn, **body: Any) -> Any:
    with arena.client() as client:
        return client.post(f"/api/conversations/{turn.conversation_id}/votes", json={"turn_id": turn.turn_id, **body})


def board(arena: RunningArena, **params: Any) -> dict:
    with arena.client() as client:
        response = client.get("/api/leaderboard", params={"rounds": 100, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_vote_with_a_category_appears_in_that_categorys_leaderboard(arena: RunningArena, database: Database) -> None:
    coding = seed_turn(database, models=[ALPHA, BETA])
    assert vote(arena, coding, kind="pairwise", value="A", category="  coding ").status_code == 201
    thumbs = seed_turn(database, models=[BETA, GAMMA])
    assert vote(arena, thumbs, kind="thumb", key=thumbs.instance_ids[0], value="up", category="writing").status_code == 201
    assert vote(arena, thumbs, kind="thumb", key=thumbs.instance_ids[1], value="down").status_code == 201

    by_coding = board(arena, category="coding")
    assert [row["model"] for row in by_coding["rows"]] == [ALPHA, BETA]
    assert by_coding["battles_by_source"] == {"human": 1, "judge": 0}
    by_writing = board(arena, category="writing")  # two thumbs: the one that named it gives the battle its category
    assert [row["model"] for row in by_writing["rows"]] == [BETA, GAMMA]
    assert board(arena)["categories"] == ["coding", "writing"]  # the choices, stripped
    assert board(arena, category="maths")["rows"] == []


def test_a_vote_without_a_category_works_as_before(arena: RunningArena, database: Database) -> None:
    turn = seed_turn(database, models=[ALPHA, BETA])
    response = vote(arena, turn, kind="pairwise", value="B")
    assert response.status_code == 201
    assert set(response.json()) == {"id", "kind", "value"}  # the answer's shape is unchanged
    with database.session() as session:
        [stored] = vote_store.list_votes(session, conversation_id=turn.conversation_id)
        assert (stored.value, stored.category) == ("B", None)
    assert [row["model"] for row in board(arena)["rows"]] == [BETA, ALPHA]
    assert vote(arena, turn, kind="pairwise", value="A", category="x" * 101).status_code == 422


def test_next_pair_proposes_the_most_uncertain_pair_and_lists_the_categories(
    arena: RunningArena, database: Database
) -> None:
    for _ in range(12):  # alpha and beta are well measured; gamma has never battled
        pairwise_vote(database, seed_turn(database, models=[ALPHA, BETA]), "A")
    with arena.client() as client:
        proposed = client.get("/api/leaderboard/next-pair", params={"candidate": [ALPHA, BETA, GAMMA]})
        settled = client.get("/api/leaderboard/next-pair", params={"candidate": [ALPHA, BETA]})
        too_few = client.get("/api/leaderboard/next-pair", params={"candidate": [ALPHA]})
        same_twice = client.get("/api/leaderboard/next-pair", params={"candidate": [ALPHA, ALPHA]})
    assert proposed.status_code == 200, proposed.text
    data = proposed.json()
    assert GAMMA in data["pair"] and data["battles"] == 0 and data["overlap"] == 1.0
    assert "no battles yet" in data["reason"]
    assert settled.json()["pair"] == [ALPHA, BETA] and settled.json()["battles"] == 12
    assert too_few.status_code == 422
    assert same_twice.status_code == 400 and "two different" in same_twice.json()["error"]


def test_the_leaderboard_says_how_many_votes_would_separate_neighbours(
    arena: RunningArena, database: Database
) -> None:
    for value in ["A"] * 6 + ["B"] * 4:
        pairwise_vote(database, seed_turn(database, models=[ALPHA, BETA]), value)
    first, second = board(arena)["rows"]
    assert first["votes_to_separate"] > 0 and second["votes_to_separate"] is None
    assert board(arena, rounds=0)["rows"][0]["votes_to_separate"] is None  # no intervals, no estimate
