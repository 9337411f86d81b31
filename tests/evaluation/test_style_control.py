"""Style control: answer style features, the Bradley–Terry fit with style covariates on simulated
battles with a known truth, the answers behind stored battles, and the API / CLI that show it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import typer
from scipy.special import expit
from typer.testing import CliRunner

from arena.cli.leaderboard import leaderboard as leaderboard_command
from arena.errors import InvalidInput
from arena.evaluation.ratings.answer_styles import clear_cache
from arena.evaluation.ratings.fit import leaderboard
from arena.evaluation.ratings.pairs import Battle
from arena.evaluation.ratings.standings import load_battles
from arena.evaluation.ratings.style import covariates, style_controlled
from arena.evaluation.ratings.style_features import STYLE_NAMES, StyleFeatures, style_features
from arena.storage import bench as bench_store
from arena.storage import judgments as judgment_store
from arena.storage.bench_models import BenchItem, BenchJudgment
from arena.storage.db import Database
from tests.support.builders import judged_pair, pairwise_vote, seed_turn, thumb
from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena

pytestmark = pytest.mark.timeout(60)

ALPHA, BETA, GAMMA = "ollama:alpha", "ollama:beta", "ollama:gamma"
NATURAL = math.log(10.0) / 400.0
SHORT = "Paris."
LONG = "# Answer\n\nThe capital of France is **Paris**.\n\n- on the Seine\n- about 2 million people\n" + "More. " * 60


def test_style_features_count_markdown_but_not_inside_code() -> None:
    text = (
        "# Title\nSome **bold** and __strong__ text, not ** this ** nor a*b*c.\n\n## Part\n"
        "- one\n- two\n  1. nested\n* three\n2) four\n#hashtag\n\n"
        "```python\n# a comment\n- not a list **nor bold**\n```\nafter **x**\n"
    )

    features = style_features(text)

    assert features == StyleFeatures(length=len(text), headers=2, lists=5, bold=3)
    assert style_features("") == StyleFeatures(length=0, headers=0, lists=0, bold=0)
    unclosed = "```\n# unclosed code\n- runs to the end"
    assert style_features(unclosed) == StyleFeatures(length=len(unclosed), headers=0, lists=0, bold=0)


def simulate(*, battles: int, beta: tuple[float, ...], seed: int) -> tuple[list[Battle], dict[str, float]]:
    """Six models: the stronger a model, the shorter and plainer it writes. Outcomes follow
    Bradley–Terry on the true ratings plus ``beta`` times the battle's style covariates."""
    rng = np.random.default_rng(seed)
    truth = np.array([1125.0, 1075.0, 1025.0, 975.0, 925.0, 875.0])
    lengths = np.array([300.0, 500.0, 800.0, 1200.0, 2000.0, 3000.0])
    size = truth.size
    first = rng.integers(0, size, battles)
    second = (first + rng.integers(1, size, battles)) % size

    def styles(model: np.ndarray) -> np.ndarray:
        return np.stack(
            [
                rng.lognormal(np.log(lengths[model]), 0.3).round(),
                rng.poisson(0.5 * model),
                rng.poisson(1.0 + model),
                rng.poisson(2.0, model.size),
            ],
            axis=1,
        ).astype(int)

    style_a, style_b = styles(first), styles(second)
    chance = expit(NATURAL * (truth[first] - truth[second]) + covariates(style_a, style_b) @ np.array(beta))
    draw = rng.random(battles)
    outcome = np.where(draw < chance - 0.05, "a", np.where(draw < chance + 0.05, "tie", "b"))
    names = [f"model-{index}" for index in range(size)]
    simulated = [
        Battle(
            model_a=names[a],
            model_b=names[b],
            outcome=result,  # type: ignore[arg-type]
            style_a=StyleFeatures(**dict(zip(STYLE_NAMES, map(int, x), strict=True))),
            style_b=StyleFeatures(**dict(zip(STYLE_NAMES, map(int, y), strict=True))),
        )
        for a, b, result, x, y in zip(first, second, outcome, style_a, style_b, strict=True)
    ]
    return simulated, dict(zip(names, truth, strict=True))


def test_style_control_recovers_the_strengths_a_length_bias_hides_from_raw_bradley_terry() -> None:
    beta = (1.0, 0.2, 0.0, 0.1)  # length matters most; lists not at all
    battles, truth = simulate(battles=4000, beta=beta, seed=7)
    true_order = sorted(truth, key=truth.__getitem__, reverse=True)

    controlled = style_controlled(battles, rounds=100, seed=1)
    raw = leaderboard(battles, rounds=0)

    assert [row.model for row in controlled.board.rows] == true_order
    for row in controlled.board.rows:
        assert abs(row.rating - truth[row.model]) < 30
        assert row.ci_low is not None and row.ci_high is not None and row.ci_low < row.rating < row.ci_high
    covered = sum(row.ci_low <= truth[row.model] <= row.ci_high for row in controlled.board.rows)  # type: ignore[operator]
    assert covered >= 5
    # Raw Bradley–Terry believes the verbose: its order is the truth reversed, far off the true ratings.
    assert [row.model for row in raw.rows] == true_order[::-1]
    assert max(abs(row.rating - truth[row.model]) for row in raw.rows) > 100
    coefficients = {c.name: c for c in controlled.coefficients}
    assert [c.name for c in controlled.coefficients] == list(STYLE_NAMES)
    for name, value in zip(STYLE_NAMES, beta, strict=True):
        assert abs(coefficients[name].value - value) < 0.15
    assert coefficients["length"].ci_low > 0.5  # type: ignore[operator]
    assert coefficients["lists"].ci_low < 0 < coefficients["lists"].ci_high  # type: ignore[operator]
    # The raw ratings of the same battles come along, for side by side.
    assert controlled.raw_ratings == pytest.approx({row.model: row.rating for row in raw.rows}, abs=0.01)


def test_without_a_style_effect_style_control_changes_little() -> None:
    battles, truth = simulate(battles=3000, beta=(0.0, 0.0, 0.0, 0.0), seed=3)

    controlled = style_controlled(battles, rounds=100, seed=2)
    point_only = style_controlled(battles, rounds=0)

    for row in controlled.board.rows:
        assert abs(row.rating - truth[row.model]) < 45
    # Over 30 seeds the estimates average 0.00 with a spread of 0.11 (length) and 0.06 or less.
    assert all(abs(c.value) < 0.35 for c in controlled.coefficients)
    # Without a bootstrap: the same fit, no intervals.
    assert all(row.ci_low is None for row in point_only.board.rows)
    assert [r.rating for r in point_only.board.rows] == pytest.approx([r.rating for r in controlled.board.rows])
    assert all(c.ci_low is None for c in point_only.coefficients)
    # The page polls with the same question: the same inputs give the result kept from last time.
    assert style_controlled(battles, rounds=100, seed=2) is controlled
    assert style_controlled(battles[:-1], rounds=100, seed=2) is not controlled


def test_battles_without_both_styles_are_left_out_and_counted() -> None:
    style = StyleFeatures(length=10, headers=0, lists=0, bold=0)
    battles = [
        Battle(model_a="a", model_b="b", outcome="a", style_a=style, style_b=style),
        Battle(model_a="a", model_b="c", outcome="a", style_a=style, style_b=None),
        Battle(model_a="b", model_b="c", outcome="b"),
    ]

    controlled = style_controlled(battles, rounds=20)

    assert controlled.battles_without_style == 2
    assert controlled.board.models == ("a", "b") and controlled.board.total_battles == 1
    with pytest.raises(InvalidInput, match="at most 1000 bootstrap rounds"):
        style_controlled(battles[:1] * 20_000, rounds=1001)
    empty = style_controlled(battles[1:], rounds=20)
    assert empty.board.rows == [] and empty.battles_without_style == 2


def test_stored_votes_thumbs_and_verdicts_carry_their_answers_styles(database: Database) -> None:
    clear_cache()
    voted = seed_turn(database, models=[ALPHA, BETA], texts=[LONG, SHORT])
    pairwise_vote(database, voted, "A")
    thumbed = seed_turn(database, models=[BETA, GAMMA], texts=[SHORT, LONG])
    thumb(database, thumbed, 0, "down")
    thumb(database, thumbed, 1, "up")
    judged = seed_turn(database, models=[ALPHA, GAMMA], texts=[SHORT, LONG])
    judged_pair(
        database, judged, winner="b", response_a_id=judged.response_ids[0], response_b_id=judged.response_ids[1]
    )
    unnamed = seed_turn(database, models=[ALPHA, BETA], texts=[SHORT, LONG])
    judged_pair(database, unnamed, winner="a")  # a verdict stored without its answers

    plain = load_battles(database)
    styled = load_battles(database, with_styles=True)

    long, short = style_features(LONG), style_features(SHORT)
    assert all(b.style_a is None and b.style_b is None for b in plain)
    assert [(b.model_a, b.model_b, b.style_a, b.style_b) for b in styled] == [
        (ALPHA, BETA, long, short),
        (BETA, GAMMA, short, long),
        (ALPHA, GAMMA, short, long),
        (ALPHA, BETA, None, None),
    ]
    assert long.headers == 1 and long.lists == 2 and long.bold == 1
    # A second read answers from the cache and gives the same.
    assert load_battles(database, with_styles=True) == styled


def test_a_benchmark_verdict_carries_the_styles_of_its_two_items(database: Database) -> None:
    clear_cache()
    alpha, beta = seed_turn(database, models=[ALPHA, BETA]).instance_ids  # records the instances
    items = [
        {"position": n, "prompt_id": "p1", "turns": ["q"], "instance_id": iid, "model": model, "repeat": 0, "seed": 0}
        for n, (iid, model) in enumerate(((alpha, ALPHA), (beta, BETA)))
    ]
    pair = {"prompt_id": "p1", "repeat": 0, "instance_a": alpha, "instance_b": beta}
    with database.session() as session:
        run = bench_store.create_run(
            session, name="run", prompt_set_name="set", prompt_file=None, prompt_set_sha256="0" * 64,
            prompt_count=1, instances=[{"instance_id": alpha}, {"instance_id": beta}], judge=None, system=None,
            repeats=1, concurrency=1, seed=0, items=items, judgments=[pair],
        )  # fmt: skip
        verdict = judgment_store.add_judgment(
            session, run_id=run.id, judge_model="ollama:judge", mode="pairwise", key_a=alpha, key_b=beta,
            raw_ab="{}", raw_ba="{}", verdict_ab="A", verdict_ba="A", winner="a", consistent=True,
        )  # fmt: skip
        for item in session.query(BenchItem).filter_by(run_id=run.id):
            item.status, item.answers = "done", [LONG, "More."] if item.instance_id == alpha else [SHORT]
        row = session.query(BenchJudgment).filter_by(run_id=run.id).one()
        row.status, row.outcome, row.detail = "done", "a", {"judgment_id": verdict.id}

    [battle] = load_battles(database, with_styles=True)

    assert (battle.model_a, battle.outcome, battle.source) == (ALPHA, "a", "judge")
    assert battle.style_a == style_features(LONG + "\n\n" + "More.")  # every turn's answer
    assert battle.style_b == style_features(SHORT)


@pytest.fixture
def arena(arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(embedded_enabled=False)


def test_the_api_and_the_cli_show_style_controlled_ratings_beside_the_raw(
    arena: RunningArena, monkeypatch: pytest.MonkeyPatch
) -> None:
    with arena.database() as database:
        for _ in range(4):  # alpha writes long and wins; gamma, short, beats beta, long, all the same
            pairwise_vote(database, seed_turn(database, models=[ALPHA, BETA], texts=[LONG, SHORT]), "A")
            pairwise_vote(database, seed_turn(database, models=[GAMMA, BETA], texts=[SHORT, LONG]), "A")
            pairwise_vote(database, seed_turn(database, models=[ALPHA, GAMMA], texts=[LONG, SHORT]), "A")

    with arena.client() as client:
        plain = client.get("/api/leaderboard", params={"rounds": 50}).json()
        styled = client.get("/api/leaderboard", params={"rounds": 50, "style_control": "true"}).json()
        wrong = client.get("/api/leaderboard", params={"style_control": "maybe"})

    assert plain["style"] is None and all(row["raw_rating"] is None for row in plain["rows"])
    assert styled["filters"]["style_control"] is True
    assert [c["name"] for c in styled["style"]["coefficients"]] == ["length", "headers", "lists", "bold"]
    assert styled["style"]["battles_without_style"] == 0
    for row in styled["rows"]:
        same = next(other for other in plain["rows"] if other["model"] == row["model"])
        assert row["raw_rating"] == pytest.approx(same["rating"], abs=0.5)
        assert row["raw_rank"] == 1 + sum(o["rating"] > same["rating"] + 0.5 for o in plain["rows"])
        assert row["ci_low"] <= row["rating"] <= row["ci_high"]
    assert wrong.status_code == 422

    monkeypatch.setenv("ARENA_DATA_DIR", str(arena.settings.data_dir))
    monkeypatch.setenv("COLUMNS", "160")
    app = typer.Typer()
    app.command()(leaderboard_command)
    table = CliRunner().invoke(app, ["--rounds", "20", "--style-control"])
    as_json = CliRunner().invoke(app, ["--rounds", "20", "--style-control", "--json"])

    assert table.exit_code == 0, table.output
    assert "style controlled" in table.output and "raw" in table.output
    assert "Style coefficients" in table.output and "length" in table.output
    data = json.loads(as_json.output)
    assert [c["name"] for c in data["style"]["coefficients"]] == list(STYLE_NAMES)
    assert all("raw_rating" in row for row in data["rows"])
