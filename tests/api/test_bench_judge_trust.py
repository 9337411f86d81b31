"""A benchmark whose judge answers "A" whatever the order (as the embedded SmolLM2 did): its run reports
the judge as unreliable and its all-tie board as saying nothing, /api/judges counts its pairs, and the
next run that names that judge is warned."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena

pytestmark = pytest.mark.timeout(120)

LLAMA, QWEN = "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"
PROMPTS = b"Why is the sky blue?\nA poem about tea.\n"
SAYS_A = '{"explanation": "The first one.", "verdict": "A"}'
SPEC = json.dumps(
    {
        "instances": [{"model": LLAMA, "num_predict": 8}, {"model": QWEN, "num_predict": 8}],
        "judge": {"instance": {"model": LLAMA}, "mode": "pairs"},
        "repeats": 3,  # 2 prompts × 3 repeats: 6 pairs, enough to flag a judge
        "seed": 5,
    }
)


@pytest.fixture
def arena(double: OllamaDouble, arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(ollama_hosts=[double.url], embedded_enabled=False)


def run_to_the_end(client: httpx.Client) -> dict:
    created = client.post(
        "/api/bench/runs", files={"prompts": ("set.txt", PROMPTS, "text/plain")}, data={"config": SPEC}
    )
    assert created.status_code == 201, created.text
    deadline = time.monotonic() + 60
    while client.get(f"/api/bench/runs/{created.json()['id']}").json()["status"] != "done":
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.05)
    return created.json()


def test_a_judge_that_always_says_a_is_flagged_in_its_report_and_when_chosen_again(
    arena: RunningArena, double: OllamaDouble
) -> None:
    double.reply = [SAYS_A]
    with arena.client() as client:
        first = run_to_the_end(client)
        assert first["judge_warning"] is None  # nothing known of the judge yet

        report = client.get(f"/api/bench/runs/{first['id']}/report", params={"format": "md"}).text
        judges = client.get("/api/judges").json()["judges"]
        second = run_to_the_end(client)

    assert f"**Warning:** {LLAMA} was inconsistent on 6 of 6 pairs" in report
    assert "**Note:** Every battle is a tie" in report
    (judge,) = judges
    assert (judge["judge_model"], judge["pairs"], judge["consistency"], judge["always_first"]) == (LLAMA, 6, 0, 1)
    assert second["judge_warning"] == judge["advice"] and "bigger judge" in second["judge_warning"]
