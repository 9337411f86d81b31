"""The /leaderboard page in a real headless Chromium says what its numbers cannot: verdicts of a judge
flagged unreliable, provisional rows, style coefficients that cannot be estimated."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from arena.storage.db import Database
from tests.api.test_judges_api import verdict
from tests.support.browser import ARTIFACTS
from tests.support.builders import pairwise_vote, seed_turn
from tests.support.fixtures import ArenaFactory, arena_database
from tests.support.server import RunningArena

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

ALPHA, BETA, GAMMA = "ollama:alpha", "ollama:beta", "ollama:gamma"
FLIPPER = "ollama:flipper-judge"
PLAIN = "Plain words, no markdown at all. " * 10  # no answer has headers, lists or bold


@pytest.fixture
def arena(arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(embedded_enabled=False)


database = arena_database


def test_the_page_warns_of_an_unreliable_judge_provisional_rows_and_unestimable_styles(
    arena: RunningArena, database: Database, page: Page
) -> None:
    for index in range(12):
        pairwise_vote(database, seed_turn(database, models=[ALPHA, BETA], texts=[PLAIN, "Short."]), "AB"[index % 3 == 0])
    for _ in range(5):
        verdict(database, seed_turn(database, models=[ALPHA, BETA], texts=[PLAIN, "Short."]), "A", "A", judge=FLIPPER)
    for _ in range(3):
        pairwise_vote(database, seed_turn(database, models=[GAMMA, ALPHA], texts=["Short.", PLAIN]), "B")

    page.goto(f"{arena.url}/leaderboard")
    expect(page.locator("#ratings tbody tr")).to_have_count(3)
    notes = page.locator("#all-ties .board-note")
    expect(notes.filter(has_text=FLIPPER)).to_contain_text("source=human")
    expect(notes.filter(has_text="Provisional")).to_contain_text("gamma")
    gamma, alpha = page.locator(f'#ratings tr[data-model="{GAMMA}"]'), page.locator(f'#ratings tr[data-model="{ALPHA}"]')
    expect(gamma).to_have_class("provisional")
    expect(gamma.locator("th.model")).to_have_attribute("title", re.compile("Provisional: only 3 battles"))
    tag = gamma.locator("th.model").evaluate("node => getComputedStyle(node, '::after').content")
    assert tag == '" provisional"'  # shown beside the name, while the cell's text stays the name
    expect(alpha).not_to_have_class("provisional")

    page.get_by_label("Style control").check()
    expect(page.locator("#style-coefficients tbody tr")).to_have_count(4)
    for style in ("headers", "lists", "bold"):
        expect(page.locator(f'#style-coefficients tr[data-style="{style}"] td.coefficient')).to_have_text("not estimable")
    expect(page.locator('#style-coefficients tr[data-style="length"] td.coefficient')).not_to_have_text("not estimable")
    page.screenshot(path=str(ARTIFACTS / "leaderboard-warnings.png"), full_page=True)
