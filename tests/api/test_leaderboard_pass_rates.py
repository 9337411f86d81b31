"""promptfoo pass rates on GET /api/leaderboard: per contestant (model, or instance), over the
benchmark runs with tests that the filters include; absent when none had tests."""

from __future__ import annotations

import httpx
import pytest

from tests.support.doubles.judging import JUDGE
from tests.support.fixtures import ArenaFactory, DoubleFactory
from tests.support.promptfoo_runs import LLAMA, QWEN, run_config, tying_arena
from tests.support.server import RunningArena

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def arena(double_factory: DoubleFactory, arena_factory: ArenaFactory) -> RunningArena:
    return tying_arena(double_factory, arena_factory)


def board(client: httpx.Client, **params: object) -> dict:
    response = client.get("/api/leaderboard", params={"rounds": 0, **params})
    assert response.status_code == 200, response.text
    return response.json()


def rates(data: dict) -> list[tuple[str, int, int, float]] | None:
    if data["pass_rates"] is None:
        return None
    return [(r["name"], r["passed"], r["total"], r["rate"]) for r in data["pass_rates"]]


def test_no_run_with_tests_means_no_pass_rates(arena: RunningArena) -> None:
    with arena.client() as client:
        assert board(client)["pass_rates"] is None


def test_contestants_of_a_promptfoo_run_show_their_pass_rate_even_without_battles(arena: RunningArena) -> None:
    with arena.client() as client:
        run_config(client, models=[LLAMA])
        data = board(client)
        by_instance = board(client, by="instance")
    assert data["rows"] == [] and rates(data) == [("llama3.2:1b", 1, 3, 0.3333)]
    [instance] = by_instance["pass_rates"]
    assert instance["model"] != LLAMA  # keyed by the instance id, named by its model
    assert instance["name"] == "llama3.2:1b"
    assert (instance["passed"], instance["total"]) == (1, 3)


def test_judged_runs_put_the_pass_rate_on_each_row_and_the_filters_choose_the_runs(arena: RunningArena) -> None:
    with arena.client() as client:
        run_config(client, models=[LLAMA, QWEN], judge=JUDGE)
        run_config(client, models=[LLAMA])  # a second run, unjudged: LLAMA has 2 of 6
        data = board(client)
        judged_only = board(client, judge_model=JUDGE)
        human = board(client, source="human")
        other_judge = board(client, judge_model="ollama:someone:else")
        later = board(client, since="2999-01-01T00:00:00Z")
        earlier = board(client, since="2000-01-01T00:00:00Z", until="2999-01-01T00:00:00Z")
        category = board(client, category="no-such-category")
    rows = {row["model"]: row["pass_rate"] for row in data["rows"]}
    assert rows == {
        LLAMA: {"passed": 2, "total": 6, "rate": 0.3333},
        QWEN: {"passed": 1, "total": 3, "rate": 0.3333},
    }
    assert rates(data) == [("llama3.2:1b", 2, 6, 0.3333), ("qwen2.5:0.5b", 1, 3, 0.3333)]  # more tests first
    assert rates(judged_only) == [("llama3.2:1b", 1, 3, 0.3333), ("qwen2.5:0.5b", 1, 3, 0.3333)]
    assert rates(earlier) == rates(data)
    for excluded in (human, other_judge, later, category):
        assert excluded["pass_rates"] is None
        assert all(row["pass_rate"] is None for row in excluded["rows"])
