"""GET /api/leaderboard, the /leaderboard page's HTML, and `arena leaderboard` in the terminal."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from arena.cli.leaderboard import leaderboard
from arena.storage.db import Database
from tests.support.builders import SeededTurn, judged_pair, pairwise_vote, seed_turn, thumb
from tests.support.fixtures import ArenaFactory, arena_database
from tests.support.server import RunningArena, make_settings, running_arena

ALPHA, BETA, GAMMA = "ollama:alpha", "ollama:beta", "ollama:gamma"


@pytest.fixture
def arena(arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(embedded_enabled=False)


# Here `database` is the running arena's own, not the shared SQLite+PostgreSQL one.
database = arena_database


def board(arena: RunningArena, **params: object) -> dict:
    with arena.client() as client:
        response = client.get("/api/leaderboard", params={"rounds": 100, **params})
    assert response.status_code == 200, response.text
    return response.json()


def alpha_beats_beta(database: Database, times: int) -> list[SeededTurn]:
    turns = []
    for _ in range(times):
        turn = seed_turn(database, models=[ALPHA, BETA])
        pairwise_vote(database, turn, "A")
        turns.append(turn)
    return turns


def test_an_empty_arena_has_an_empty_leaderboard(arena: RunningArena) -> None:
    data = board(arena)
    assert (data["rows"], data["models"], data["win_rate"], data["total_battles"]) == ([], [], [], 0)
    assert data["battles_by_source"] == {"human": 0, "judge": 0}


def test_votes_give_ratings_with_intervals_elo_win_rates_and_counts(arena: RunningArena, database: Database) -> None:
    alpha_beats_beta(database, 6)
    for _ in range(3):
        turn = seed_turn(database, models=[BETA, GAMMA])
        pairwise_vote(database, turn, "A")
    turn = seed_turn(database, models=[ALPHA, GAMMA])
    pairwise_vote(database, turn, "both_bad")

    data = board(arena)

    assert [row["model"] for row in data["rows"]] == [ALPHA, BETA, GAMMA] == data["models"]
    alpha, beta, gamma = data["rows"]
    assert alpha["ci_low"] < alpha["rating"] < alpha["ci_high"]
    assert alpha["rating"] > beta["rating"] > gamma["rating"]
    assert alpha["elo"] > 1000 > gamma["elo"]
    assert (alpha["wins"], alpha["losses"], alpha["both_bad"], alpha["battles"]) == (6, 0, 1, 7)
    for row in data["rows"]:  # ranked by upper bound: only models surely better rank above
        assert row["rank"] == 1 + sum(other["ci_low"] > row["ci_high"] for other in data["rows"])
    assert alpha["rank"] == 1
    assert data["win_rate"][0][1] == 1.0 and data["win_rate"][1][0] == 0.0
    assert data["win_rate"][0][2] == 0.5  # both-bad scores as a tie, but is counted apart
    assert data["win_rate"][0][0] is None
    assert data["counts"] == [[0, 6, 1], [6, 0, 3], [1, 3, 0]]
    assert (data["total_battles"], data["battles_by_source"]) == (10, {"human": 10, "judge": 0})


def test_the_leaderboard_follows_a_new_vote(arena: RunningArena, database: Database) -> None:
    [turn] = alpha_beats_beta(database, 1)
    before = board(arena)
    assert before["total_battles"] == 1

    later = seed_turn(database, models=[GAMMA, BETA], conversation_id=turn.conversation_id)
    thumb(database, later, 0, "up")
    thumb(database, later, 1, "down")

    after = board(arena)
    assert after["total_battles"] == 2
    assert {row["model"] for row in after["rows"]} == {ALPHA, BETA, GAMMA}
    assert after["latest_battle_at"] > before["latest_battle_at"]


def test_filters_by_source_judge_category_time_and_instance(arena: RunningArena, database: Database) -> None:
    [turn] = alpha_beats_beta(database, 1)
    judged_pair(database, turn, winner="b", judge="ollama:judge", category="geography")
    judged_pair(database, turn, winner="a", judge="ollama:other")

    human = board(arena, source="human")
    judge = board(arena, source="judge")
    one_judge = board(arena, judge_model="ollama:judge")
    geography = board(arena, category="geography")

    assert human["total_battles"] == 1 and human["rows"][0]["model"] == ALPHA
    assert judge["total_battles"] == 2 and judge["battles_by_source"] == {"human": 0, "judge": 2}
    assert one_judge["rows"][0]["model"] == BETA and one_judge["total_battles"] == 1
    assert geography["total_battles"] == 1
    assert judge["judge_models"] == ["ollama:judge", "ollama:other"] and judge["categories"] == ["geography"]

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert board(arena, since=tomorrow)["total_battles"] == 0
    assert board(arena, until=tomorrow)["total_battles"] == 3
    assert board(arena, until="2000-01-01T00:00:00")["total_battles"] == 0  # no zone: read as UTC
    by_instance = board(arena, by="instance", source="human")
    assert by_instance["models"] == [turn.instance_ids[0], turn.instance_ids[1]]


def test_the_same_seed_gives_the_same_intervals_and_no_rounds_gives_none(
    arena: RunningArena, database: Database
) -> None:
    alpha_beats_beta(database, 3)
    seed_turn_ = seed_turn(database, models=[ALPHA, BETA])
    pairwise_vote(database, seed_turn_, "B")

    first, second = board(arena, seed=7), board(arena, seed=7)
    assert first["rows"] == second["rows"]
    plain = board(arena, rounds=0)
    assert plain["rows"][0]["ci_low"] is None and plain["rows"][0]["rank"] == 1


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"source": "robots"}, 422, "source"),
        ({"rounds": -1}, 422, "rounds"),
        ({"rounds": 100_000}, 422, "rounds"),
        ({"since": "last tuesday"}, 422, "since"),
        ({"by": "vibes"}, 422, "by"),
        ({"since": "2025-02-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"}, 400, "since must come before until"),
    ],
)
def test_bad_filters_get_a_clear_4xx(arena: RunningArena, params: dict, status: int, message: str) -> None:
    with arena.client() as client:
        response = client.get("/api/leaderboard", params=params)
    assert response.status_code == status
    assert message in response.json()["error"]


def test_the_page_is_served_with_its_own_script_and_style_under_a_strict_policy(arena: RunningArena) -> None:
    with arena.client() as client:
        page = client.get("/leaderboard")
        script = client.get("/static/js/pages/leaderboard.js")
        style = client.get("/static/css/pages/leaderboard.css")

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="/static/js/pages/leaderboard.js">' in page.text
    assert 'href="/static/css/pages/leaderboard.css"' in page.text
    assert "<script>" not in page.text and "style=" not in page.text
    assert script.status_code == 200 and "/api/leaderboard" in script.text
    assert style.status_code == 200 and ".heatmap" in style.text


def test_with_a_token_the_api_needs_it_but_the_page_loads(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", embedded_enabled=False, web_chat_token="s3cret-token")
    with running_arena(settings) as arena, arena.client() as client:
        assert client.get("/leaderboard").status_code == 200
        assert client.get("/api/leaderboard").status_code == 401
        authorized = client.get("/api/leaderboard", headers={"Authorization": "Bearer s3cret-token"})
        assert authorized.status_code == 200


def test_the_terminal_leaderboard_prints_ratings_with_intervals(
    arena: RunningArena, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    alpha_beats_beta(database, 4)
    turn = seed_turn(database, models=[ALPHA, BETA])
    pairwise_vote(database, turn, "tie")
    monkeypatch.setenv("ARENA_DATA_DIR", str(arena.settings.data_dir))
    monkeypatch.setenv("COLUMNS", "160")
    app = typer.Typer()
    app.command()(leaderboard)
    runner = CliRunner()

    table = runner.invoke(app, ["--rounds", "50", "--matrix"])
    as_json = runner.invoke(app, ["--rounds", "50", "--json"])
    judged_only = runner.invoke(app, ["--source", "judge"])
    wrong = runner.invoke(app, ["--source", "robots"])

    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    alpha_line = next(line for line in lines if ALPHA in line and "━" in line)
    assert "4·0·1·0" in alpha_line and "●" in alpha_line
    assert "5 battles" in table.output and "Win rate" in table.output
    data = json.loads(as_json.output)
    assert data["rows"][0]["model"] == ALPHA and data["rows"][0]["ci_low"] < data["rows"][0]["rating"]
    assert judged_only.exit_code == 0 and "No battles yet" in judged_only.output
    assert wrong.exit_code == 2


def test_rows_carry_readable_names_beside_the_ids_they_are_keyed_by(arena: RunningArena, database: Database) -> None:
    smol = "local:smollm2-135m-instruct"
    for temperatures, winner in (([1.0, 0.2], "A"), ([1.0, 0.7], "A"), ([0.2, 0.7], "B")):
        turn = seed_turn(database, models=[smol, smol], temperatures=temperatures)
        pairwise_vote(database, turn, winner)
    turn = seed_turn(database, models=[smol, ALPHA], temperatures=[1.0, 0.7])
    pairwise_vote(database, turn, "A")

    by_instance = board(arena, by="instance")
    by_model = board(arena)

    names = {row["model"]: row["name"] for row in by_instance["rows"]}
    hot, alpha = turn.instance_ids
    assert names[hot] == "smollm2-135m-instruct · temp 1.0"  # only the setting that differs
    assert names[alpha] == "alpha"  # the engine prefix goes where no other engine has the name
    assert sorted(names.values()) == sorted(
        [
            "smollm2-135m-instruct · temp 1.0",
            "smollm2-135m-instruct · temp 0.2",
            "smollm2-135m-instruct · temp 0.7",
            "alpha",
        ]
    )
    assert by_instance["names"] == [names[model] for model in by_instance["models"]]
    assert [(row["model"], row["name"]) for row in by_model["rows"]] == [  # ids stay where clients read them
        (smol, "smollm2-135m-instruct"),
        (ALPHA, "alpha"),
    ]


def test_the_schema_says_what_rating_and_elo_are(arena: RunningArena) -> None:
    with arena.client() as client:
        schema = client.get("/openapi.json").json()["components"]["schemas"]["RatingPublic"]["properties"]
    assert "Bradley–Terry" in schema["rating"]["description"]
    assert "order" in schema["elo"]["description"] and "1000" in schema["elo"]["description"]
    assert "readable" in schema["name"]["description"]


def test_a_blind_conversation_stays_off_the_board_and_the_terminal_until_its_reveal(
    arena: RunningArena, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit's repro: a vote on a blind turn, then a board since just before it, said who Model B was."""
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    turn = seed_turn(database, models=[ALPHA, BETA], blind=True)
    pairwise_vote(database, turn, "B")
    thumb(database, turn, 0, "down")
    judged_pair(database, turn, winner="b")
    monkeypatch.setenv("ARENA_DATA_DIR", str(arena.settings.data_dir))
    app = typer.Typer()
    app.command()(leaderboard)

    for params in ({}, {"since": since}, {"by": "instance"}, {"include_imported": "true"}):
        assert board(arena, **params)["total_battles"] == 0, params
    assert "No battles yet" in CliRunner().invoke(app, ["--since", since[:19]]).output

    with arena.client() as client:
        assert client.post(f"/api/conversations/{turn.conversation_id}/reveal").status_code == 200
    revealed = board(arena, since=since)
    assert revealed["total_battles"] == 2 and revealed["rows"][0]["model"] == BETA
    assert json.loads(CliRunner().invoke(app, ["--json"]).output)["rows"][0]["model"] == BETA
