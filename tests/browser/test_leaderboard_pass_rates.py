"""The /leaderboard page's "Tests passed" column in a real headless Chromium: shown for
contestants of promptfoo runs, with the count; gone when the filters include no such run."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.doubles.judging import JUDGE
from tests.support.fixtures import ArenaFactory, DoubleFactory
from tests.support.promptfoo_runs import LLAMA, QWEN, run_config, tying_arena
from tests.support.server import RunningArena

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


@pytest.fixture
def arena(double_factory: DoubleFactory, arena_factory: ArenaFactory) -> RunningArena:
    return tying_arena(double_factory, arena_factory)


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
