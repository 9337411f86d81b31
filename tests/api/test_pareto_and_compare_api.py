"""GET /api/leaderboard/pareto (ratings against stored speeds per host and engine, and against the
sizes Ollama lists; a category gives that category's ratings) and GET /api/bench/compare."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update

from arena.storage.db import Database
from arena.storage.models import Response, Vote
from tests.evaluation.test_bench_compare import BASELINE, Q4, Q8, seed_two_quantizations
from tests.support.builders import judged_pair, pairwise_vote, seed_turn, thumb
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena

pytestmark = pytest.mark.timeout(120)
LLAMA, QWEN, GONE = "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b", "ollama:gone"  # GONE: not listed, size unknown
SPEEDS = {LLAMA: 20.0, QWEN: 60.0, GONE: 40.0}


@pytest.fixture(scope="module")
def arena(module_double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(ollama_hosts=[module_double.url], embedded_enabled=False)


def battle(database: Database, winner: str, loser: str, *, times: int, category: str | None = None) -> None:
    """Votes (no category) or judge verdicts in a category. Their answers ran two at a time (not
    solo speeds): each model's speed comes from one answer of its own, voted in the category."""
    for _ in range(times):
        turn = seed_turn(database, models=[winner, loser])
        if category is None:
            pairwise_vote(database, turn, "A")
        else:
            judged_pair(database, turn, winner="a", category=category)
    for model in (winner, loser):
        alone = seed_turn(database, models=[model])
        thumb(database, alone, 0, "up")
        with database.session() as session:
            session.execute(update(Vote).where(Vote.turn_id == alone.turn_id).values(category=category))
            session.execute(
                update(Response).where(Response.id == alone.response_ids[0]).values(tokens_per_sec=SPEEDS[model])
            )
            session.commit()


def pareto(client: httpx.Client, **params: str) -> dict:
    response = client.get("/api/leaderboard/pareto", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_pareto_points_and_frontiers_per_axis_and_category(arena: RunningArena) -> None:
    with arena.database() as database:
        battle(database, LLAMA, QWEN, times=5)
        battle(database, QWEN, GONE, times=3)
        battle(database, GONE, LLAMA, times=4, category="code")
        battle(database, GONE, QWEN, times=2, category="code")

    with arena.client() as client:
        overall = pareto(client, source="human")
        code = pareto(client, category="code")
        bad = client.get("/api/leaderboard/pareto", params={"by": "team"})

    speed, disk, resident = overall["charts"]
    assert (speed["axis"], speed["host"], speed["engine"]) == ("tokens_per_sec", None, "ollama")
    points = {p["key"]: p for p in speed["points"]}
    # Each point carries the 95% interval that decided dominance (llama's lies wholly above qwen's).
    assert points[LLAMA]["ci_low"] > points[QWEN]["ci_high"] and not overall["charts"][0]["no_signal"]
    assert {k: p["value"] for k, p in points.items()} == SPEEDS
    # llama rates highest, qwen is fastest, gone is slower and rated lower than qwen.
    assert {k for k, p in points.items() if p["optimal"]} == {LLAMA, QWEN}
    assert disk["axis"] == "disk_bytes" and {p["key"]: p["value"] for p in disk["points"]} == {
        LLAMA: 1_321_098_329,
        QWEN: 397_821_319,
    }
    assert disk["unknown"] == ["gone"] and all(p["optimal"] for p in disk["points"])
    assert resident["points"] == [] and len(resident["unknown"]) == 3  # Ollama does not say
    # In "code", gone beat both: it rates highest there; qwen is the fastest, llama neither.
    code_speed = {p["key"]: p["optimal"] for p in code["charts"][0]["points"]}
    assert code["category"] == "code" and code_speed == {GONE: True, QWEN: True, LLAMA: False}
    assert bad.status_code == 422


def test_bench_compare_over_http(arena: RunningArena) -> None:
    with arena.database() as database:
        run_a, run_b = seed_two_quantizations(database)

    with arena.client() as client:
        across = client.get("/api/bench/compare", params={"run_a": run_b, "run_b": run_a[:8]})
        within = client.get(
            "/api/bench/compare", params={"run_a": run_a, "instance_a": Q4.instance_id, "instance_b": BASELINE.model}
        )
        unknown = client.get("/api/bench/compare", params={"run_a": "f" * 32})
        unnamed = client.get("/api/bench/compare", params={"run_a": run_a})

    assert across.status_code == 200, across.text
    body = across.json()
    assert (body["instance_a"], body["instance_b"]) == (Q8.instance_id, Q4.instance_id)
    assert (body["better_a"], body["better_b"], body["even"]) == (6, 1, 3)
    assert body["sign_test_p"] == pytest.approx(0.125) and len(body["differences"]) == 10
    assert within.status_code == 200 and within.json()["basis"] == "direct"
    assert unknown.status_code == 404
    assert unnamed.status_code == 400 and "name both" in unnamed.text
