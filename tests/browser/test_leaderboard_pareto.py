"""The /leaderboard page's "quality against speed and memory" panel in a real headless Chromium:
a scatter per axis, the Pareto-optimal contestants filled, unknown sizes named; the category
filter redraws it with that category's ratings; and the bench page's comparison of two runs."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.api.test_pareto_and_compare_api import GONE, LLAMA, QWEN, battle
from tests.evaluation.test_bench_compare import seed_two_quantizations
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def arena(module_double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    """One arena for the module: the leaderboard test's votes and the bench test's runs do not meet."""
    return module_arena_factory(ollama_hosts=[module_double.url], embedded_enabled=False)


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


def test_the_bench_page_compares_two_quantizations(arena: RunningArena, page: Page) -> None:
    with arena.database() as database:
        run_a, run_b = seed_two_quantizations(database)  # q4 and q8, each against one baseline

    page.goto(f"{arena.url}/bench")
    page.fill("#compare-form input[name=run_a]", run_b[:8])
    page.fill("#compare-form input[name=run_b]", run_a[:8])
    page.click("#compare-start")

    result = page.locator("#compare-result")
    expect(result).to_contain_text("A better on 6, B better on 1, even on 3")
    expect(result).to_contain_text("Sign test (exact, two-sided): p = 0.1250")
    expect(result).to_contain_text("more)")  # ten prompts do not separate them yet

    page.fill("#compare-form input[name=run_b]", "")
    page.click("#compare-start")
    expect(page.locator("#compare-error")).to_contain_text("name both")
    expect(result).to_be_hidden()
