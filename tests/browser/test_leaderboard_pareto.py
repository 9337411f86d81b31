"""The /leaderboard page's "quality against speed and memory" panel in a real headless Chromium:
a scatter per axis, the Pareto-optimal contestants filled, unknown sizes named; the category
filter redraws it with that category's ratings."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.api.test_pareto_and_compare_api import GONE, LLAMA, QWEN, battle
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


@pytest.fixture
def arena(double: OllamaDouble, arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(ollama_hosts=[double.url], embedded_enabled=False)


def test_the_pareto_panel_draws_the_frontier_and_follows_the_category(arena: RunningArena, page: Page) -> None:
    with arena.database() as database:
        battle(database, LLAMA, QWEN, times=5)  # llama rates highest (20 tok/s), qwen is fastest (60)
        battle(database, QWEN, GONE, times=3)  # gone (40 tok/s, not listed: size unknown) is dominated
        battle(database, GONE, LLAMA, times=4, category="code")
        battle(database, GONE, QWEN, times=2, category="code")

    page.goto(f"{arena.url}/leaderboard")
    page.select_option("#leaderboard-filters select[name=source]", "human")  # the votes: no category

    figures = page.locator("#pareto-charts figure.pareto-chart")
    expect(figures).to_have_count(3)
    speed = page.locator('#pareto-charts figure[data-axis="tokens_per_sec"]')
    expect(speed.locator("h3")).to_have_text("Rating against tokens/s on unknown host · ollama")
    expect(speed.locator("circle")).to_have_count(3)
    expect(speed.locator(f'circle.dominated[data-key="{GONE}"]')).to_have_count(1)
    expect(speed.locator("polyline.frontier")).to_have_count(1)
    assert speed.locator("svg.pareto-plot").bounding_box()["height"] > 100  # drawn, not just in the DOM
    disk = page.locator('#pareto-charts figure[data-axis="disk_bytes"]')
    expect(disk.locator("circle.optimal")).to_have_count(2)
    expect(disk.locator("figcaption")).to_contain_text("GB unknown: gone")
    resident = page.locator('#pareto-charts figure[data-axis="resident_bytes"]')
    expect(resident.locator("figcaption")).to_contain_text("unknown for every rated contestant")

    page.select_option("#leaderboard-filters select[name=category]", "code")  # no human vote has one
    expect(page.locator("#pareto-charts")).to_have_text("No ratings to chart yet.")
    page.select_option("#leaderboard-filters select[name=source]", "all")  # judge verdicts: gone won them all

    expect(speed.locator(f'circle.dominated[data-key="{LLAMA}"]')).to_have_count(1)
    expect(speed.locator("circle.dominated")).to_have_count(1)
