"""The /leaderboard page's "Tests passed" column in a real headless Chromium: shown for
contestants of promptfoo runs, with the count; gone when the filters include no such run."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.doubles.judging import JUDGE, JudgingOllama
from tests.support.fixtures import ArenaFactory, DoubleFactory
from tests.support.server import RunningArena

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]
LLAMA, QWEN = "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"
# Every answer says "blue": 1 test of 3 passes.
CONFIG = b"""\
prompts: ["Why is the sky {{colour}}?"]
tests:
  - vars: {colour: [blue, green, red]}
    assert:
      - type: contains
        value: "{{colour}}"
"""


@pytest.fixture
def arena(double_factory: DoubleFactory, arena_factory: ArenaFactory) -> RunningArena:
    judging = JudgingOllama()
    judging.decide = lambda prompt: '{"explanation": "The sky is blue, both say.", "verdict": "tie"}'
    double_factory(judging)
    return arena_factory(ollama_hosts=[judging.url], embedded_enabled=False)


def run_config(client: httpx.Client, *, models: list[str], judge: str | None = None) -> None:
    spec: dict = {"instances": [{"model": model} for model in models], "seed": 5}
    if judge is not None:
        spec["judge"] = {"instance": {"model": judge}}
    files = {"prompts": ("promptfooconfig.yaml", CONFIG, "application/x-yaml")}
    created = client.post("/api/bench/runs", files=files, data={"config": json.dumps(spec)})
    assert created.status_code == 201, created.text
    deadline = time.monotonic() + 60
    while client.get(f"/api/bench/runs/{created.json()['id']}").json()["status"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_the_board_shows_each_contestants_tests_passed_and_hides_them_for_human_votes(
    arena: RunningArena, page: Page
) -> None:
    with arena.client() as client:
        run_config(client, models=[LLAMA, QWEN], judge=JUDGE)
        run_config(client, models=[JUDGE])  # tested, never in a battle

    page.goto(f"{arena.url}/leaderboard")
    heading = page.locator("#pass-rate-heading")
    expect(heading).to_be_visible()
    expect(heading).to_have_text("Tests passed")
    for model in (LLAMA, QWEN):
        expect(page.locator(f'#ratings tr[data-model="{model}"] td.pass-rate')).to_have_text("33% (1/3)")
    expect(page.locator("#tested-unrated")).to_have_text("Tests passed, not rated yet (no battles): judge:7b 33% (1/3)")

    page.select_option("select[name=source]", "human")  # human votes include no run
    expect(page.locator("#ratings tbody tr")).to_have_count(0)
    expect(heading).to_be_hidden()
    expect(page.locator("#tested-unrated")).to_be_hidden()
