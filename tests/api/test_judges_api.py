"""GET /api/judges, `arena judges`, and what the leaderboard says when the judges' verdicts are all ties
or all between settings of one model."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from arena.cli.judges import judges
from arena.cli.leaderboard import leaderboard
from arena.storage.db import Database
from tests.support.builders import SeededTurn, judged_pair, pairwise_vote, seed_turn
from tests.support.fixtures import ArenaFactory, arena_database
from tests.support.server import RunningArena

pytestmark = pytest.mark.timeout(120)

ALPHA, BETA = "ollama:alpha", "ollama:beta"
SMALL, BIG = "local:smollm2-135m-instruct", "ollama:big-judge"

database = arena_database  # the running arena's own


@pytest.fixture
def arena(arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(embedded_enabled=False)


def verdict(database: Database, turn: SeededTurn, ab: str, ba: str, *, judge: str) -> None:
    winner = {("A", "B"): "a", ("B", "A"): "b"}.get((ab, ba), "tie")
    judged_pair(database, turn, winner=winner, judge=judge, verdict_ab=ab, verdict_ba=ba)


def cli(command: object, *args: str) -> str:
    app = typer.Typer()
    app.command()(command)
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_judges_numbers_over_the_api_and_in_the_terminal(
    arena: RunningArena, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(5):  # the small judge says "A" whatever the order: every verdict a flip
        verdict(database, seed_turn(database, models=[ALPHA, BETA]), "A", "A", judge=SMALL)
    for human in ("A", "B"):  # the big judge picks alpha in both orders; humans agree once
        turn = seed_turn(database, models=[ALPHA, BETA])
        verdict(database, turn, "A", "B", judge=BIG)
        pairwise_vote(database, turn, human)

    with arena.client() as client:
        body = client.get("/api/judges").json()
        only_big = client.get("/api/judges", params={"judge_model": BIG}).json()
        too_long = client.get("/api/judges", params={"judge_model": "x" * 301})

    small, big = body["judges"]
    assert (small["judge_model"], small["pairs"], small["consistency"], small["first_position"]) == (SMALL, 5, 0, 1)
    assert small["unreliable"] is True and "bigger judge" in small["advice"]
    assert (big["judge_model"], big["consistency"], big["first_position"], big["tie_rate"]) == (BIG, 1, 0.5, 0)
    assert big["humans"] == {
        "compared": 2,
        "agreement": 0.5,
        "kappa": 0.0,  # judge always "a", humans a and b: chance is 0.5 as well
        "compared_without_ties": 2,
        "agreement_without_ties": 0.5,
        "kappa_without_ties": 0.0,
    }
    assert big["unreliable"] is False and big["advice"] is None
    assert [j["judge_model"] for j in only_big["judges"]] == [BIG]
    assert too_long.status_code == 422 and "error" in too_long.json()

    monkeypatch.setenv("ARENA_DATA_DIR", str(arena.settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")
    table = cli(judges)
    small_line = next(line for line in table.splitlines() if SMALL in line and "%" in line)
    assert "unreliable" in small_line and "0%" in small_line and "100%" in small_line
    assert f"Warning: {SMALL} was inconsistent on 5 of 5 pairs" in table
    as_json = json.loads(cli(judges, "--json"))
    assert [j["judge_model"] for j in as_json["judges"]] == [SMALL, BIG]


def test_a_board_of_nothing_but_ties_says_so(
    arena: RunningArena, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(4):
        verdict(database, seed_turn(database, models=[ALPHA, BETA]), "A", "A", judge=SMALL)

    with arena.client() as client:
        tied = client.get("/api/leaderboard", params={"rounds": 50}).json()
    assert tied["total_battles"] == 4 and tied["all_ties"] is True
    assert "1000 – 1000" in tied["note"] and "no signal" in tied["note"]

    monkeypatch.setenv("ARENA_DATA_DIR", str(arena.settings.data_dir))
    monkeypatch.setenv("COLUMNS", "160")
    terminal = cli(leaderboard, "--rounds", "20")
    assert "Note: Every battle is a tie" in terminal
    assert "no signal" in terminal and "1000–1000" not in terminal
    assert json.loads(cli(leaderboard, "--rounds", "0", "--json"))["all_ties"] is True

    pairwise_vote(database, seed_turn(database, models=[ALPHA, BETA]), "A")  # one real win
    with arena.client() as client:
        decided = client.get("/api/leaderboard", params={"rounds": 0}).json()
    assert decided["all_ties"] is False and "Every battle is a tie" not in (decided["note"] or "")
    assert "Every battle is a tie" not in cli(leaderboard, "--rounds", "0")


def test_one_model_at_several_settings_points_to_the_board_by_instance(
    arena: RunningArena, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):
        turn = seed_turn(database, models=[ALPHA, ALPHA], temperatures=[0.2, 0.9])
        verdict(database, turn, "A", "B", judge=BIG)
    monkeypatch.setenv("ARENA_DATA_DIR", str(arena.settings.data_dir))
    monkeypatch.setenv("COLUMNS", "160")

    by_model = cli(leaderboard, "--rounds", "0")
    by_instance = cli(leaderboard, "--rounds", "0", "--by", "instance")

    assert "No battles yet" not in by_model
    assert "3 between settings of one model" in by_model and "--by instance" in by_model
    assert "3 battles" in by_instance and "temp" not in by_model
