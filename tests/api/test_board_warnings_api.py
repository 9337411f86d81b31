"""What GET /api/leaderboard and `arena leaderboard` warn about (ratings/board_warnings.py): verdicts
of a judge flagged unreliable, provisional rows; and GET /api/leaderboard/next-pair by instance."""

from __future__ import annotations

import json

import pytest

from arena.cli.leaderboard import leaderboard
from arena.evaluation.judge import flagged
from arena.storage.db import Database
from tests.api.test_judges_api import cli, verdict
from tests.support.builders import pairwise_vote, seed_turn
from tests.support.fixtures import ArenaFactory, arena_database
from tests.support.server import RunningArena

pytestmark = pytest.mark.timeout(120)

ALPHA, BETA, GAMMA = "ollama:alpha", "ollama:beta", "ollama:gamma"
FLIPPER = "ollama:flipper-judge"  # says "A" whichever answer comes first: inconsistent on every pair

database = arena_database  # the running arena's own


@pytest.fixture
def arena(arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(embedded_enabled=False)


def test_the_board_names_an_unreliable_judge_in_its_view_and_marks_thin_rows_provisional(
    arena: RunningArena, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in range(12):
        pairwise_vote(database, seed_turn(database, models=[ALPHA, BETA]), "A" if index % 4 else "B")
    for _ in range(6):
        verdict(database, seed_turn(database, models=[ALPHA, BETA]), "A", "A", judge=FLIPPER)
    for _ in range(3):  # gamma: three votes, never against beta
        pairwise_vote(database, seed_turn(database, models=[GAMMA, ALPHA]), "B")

    with arena.client() as client:
        default = client.get("/api/leaderboard", params={"rounds": 100}).json()
        humans = client.get("/api/leaderboard", params={"rounds": 100, "source": "human"}).json()

    assert default["unreliable_judges"] == [FLIPPER]
    [judge_note] = [note for note in default["notes"] if FLIPPER in note]
    assert "unreliable" in judge_note and "source=human" in judge_note and "judge_model" in judge_note
    assert judge_note in default["note"]
    assert humans["unreliable_judges"] == [] and FLIPPER not in (humans["note"] or "")

    rows = {row["model"]: row for row in default["rows"]}
    assert rows[GAMMA]["provisional"] is True and "only 3 battles" in rows[GAMMA]["provisional_reason"]
    assert rows[ALPHA]["provisional"] is False and rows[ALPHA]["provisional_reason"] is None
    assert any(note.startswith("Provisional: gamma") for note in default["notes"])
    order = [row["model"] for row in default["rows"]]
    if order.index(GAMMA) > 0:  # no votes-to-separate claim beside a provisional row
        assert default["rows"][order.index(GAMMA) - 1]["votes_to_separate"] is None
    assert default["rows"][order.index(GAMMA)]["votes_to_separate"] is None

    monkeypatch.setenv("ARENA_DATA_DIR", str(arena.settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")
    terminal = cli(leaderboard, "--rounds", "50")
    assert f"Note: This board counts verdicts of the judge {FLIPPER}" in terminal
    assert "gamma (provisional)" in terminal.replace("ollama:gamma", "gamma")
    as_json = json.loads(cli(leaderboard, "--rounds", "50", "--json"))
    assert as_json["unreliable_judges"] == [FLIPPER]
    assert {row["model"]: row["provisional"] for row in as_json["rows"]}[GAMMA] is True


def test_the_judge_flags_are_read_once_until_the_battles_change(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = []
    real = flagged.stored_judge_stats
    monkeypatch.setattr(flagged, "stored_judge_stats", lambda db: reads.append(1) or real(db))
    for _ in range(5):
        verdict(database, seed_turn(database, models=[ALPHA, BETA]), "A", "A", judge=FLIPPER)

    assert list(flagged.unreliable_judges(database)) == [FLIPPER]
    assert list(flagged.unreliable_judges(database)) == [FLIPPER]
    assert len(reads) == 1  # the second read came from the cache
    pairwise_vote(database, seed_turn(database, models=[ALPHA, BETA]), "A")  # a change: read again
    flagged.unreliable_judges(database)
    assert len(reads) == 2


def test_next_pair_by_instance_proposes_instances_with_their_settings(
    arena: RunningArena, database: Database
) -> None:
    warm = seed_turn(database, models=[ALPHA, ALPHA], temperatures=[0.2, 1.0])
    for _ in range(12):
        pairwise_vote(database, seed_turn(database, models=[ALPHA, ALPHA], temperatures=[0.2, 1.0]), "A")
    fresh = seed_turn(database, models=[BETA], temperatures=[0.7]).instance_ids[0]
    cold, hot = warm.instance_ids

    with arena.client() as client:
        settled = client.get("/api/leaderboard/next-pair", params={"candidate": [cold, hot], "by": "instance"})
        newcomer = client.get(
            "/api/leaderboard/next-pair", params={"candidate": [cold, hot, fresh], "by": "instance"}
        )
        by_model = client.get("/api/leaderboard/next-pair", params={"candidate": [ALPHA, BETA]})
        not_an_instance = client.get("/api/leaderboard/next-pair", params={"candidate": [ALPHA, BETA], "by": "instance"})

    assert settled.status_code == 200, settled.text
    data = settled.json()
    assert data["by"] == "instance" and sorted(data["pair"]) == sorted([cold, hot]) and data["battles"] == 12
    settings = {item["id"]: item for item in data["instances"]}
    assert settings[cold]["model"] == ALPHA and settings[cold]["settings"]["temperature"] == "0.2"
    assert settings[hot]["settings"]["temperature"] == "1.0" and "1.0" in settings[hot]["name"]
    assert fresh in newcomer.json()["pair"] and "no battles yet" in newcomer.json()["reason"]
    # By model the two temperatures of alpha are one contestant, with no battles against beta.
    assert by_model.json()["by"] == "model" and by_model.json()["instances"] is None
    assert not_an_instance.status_code == 400 and "not an instance id" in not_an_instance.json()["error"]
