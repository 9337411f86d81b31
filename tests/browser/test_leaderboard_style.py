"""The /leaderboard page's style-control toggle in a real headless Chromium: the raw rating beside
the style-controlled one, and the style coefficients."""

from __future__ import annotations

import random

import httpx
import pytest
from playwright.sync_api import Page, expect

from arena.storage.db import Database
from tests.storage.test_battle_counts import _bench_run
from tests.support.browser import ARTIFACTS
from tests.support.builders import pairwise_vote, seed_turn
from tests.support.fixtures import ArenaFactory, arena_database
from tests.support.server import RunningArena

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

ALPHA, BETA, GAMMA = "ollama:alpha", "ollama:beta", "ollama:gamma"
LONG = "# Answer\n\n- **one**\n- two\n" + "More words. " * 40


@pytest.fixture
def arena(arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(embedded_enabled=False)


database = arena_database


def test_the_style_control_toggle_shows_raw_ratings_beside_and_the_coefficients(
    arena: RunningArena, database: Database, page: Page
) -> None:
    for winner, loser, texts in ((ALPHA, BETA, [LONG, "Short."]), (GAMMA, BETA, ["Short.", LONG])) * 3:
        pairwise_vote(database, seed_turn(database, models=[winner, loser], texts=texts), "A")
    pairwise_vote(database, seed_turn(database, models=[ALPHA, GAMMA], texts=[LONG, "Short."]), "A")

    page.goto(f"{arena.url}/leaderboard")
    expect(page.locator("#ratings tbody tr")).to_have_count(3)
    expect(page.locator("#raw-heading")).to_be_hidden()
    expect(page.locator("#style-panel")).to_be_hidden()

    page.get_by_label("Style control").check()

    coefficients = page.locator("#style-coefficients tbody tr")
    expect(coefficients).to_have_count(4)
    expect(page.locator("#raw-heading")).to_be_visible()
    assert [coefficients.nth(i).get_attribute("data-style") for i in range(4)] == ["length", "headers", "lists", "bold"]
    rounds = page.locator("#main").get_attribute("data-rounds")
    api = httpx.get(
        f"{arena.url}/api/leaderboard", params={"rounds": rounds, "style_control": "true"}
    ).json()
    shown = page.locator("#style-coefficients td.coefficient").all_inner_texts()
    assert [float(text.replace("−", "-")) for text in shown] == pytest.approx(
        [c["value"] for c in api["style"]["coefficients"]], abs=0.001
    )
    raw = page.locator("#ratings td.raw-rating")
    expect(raw).to_have_count(3)
    for index, row in enumerate(api["rows"]):
        assert raw.nth(index).inner_text() == f"{row['raw_rating']:.0f} (#{row['raw_rank']})"
    page.screenshot(path=str(ARTIFACTS / "leaderboard-style-control.png"), full_page=True)

    summary = page.locator("#leaderboard-summary")
    expect(summary).to_contain_text(f"{api['total_battles']} battles (")
    expect(summary).not_to_contain_text("left out")

    page.get_by_label("Style control").uncheck()
    expect(page.locator("#style-panel")).to_be_hidden()
    expect(page.locator("#ratings td.raw-rating")).to_have_count(0)


def test_the_header_counts_the_battles_style_control_rates_and_says_how_many_it_left_out(
    arena: RunningArena, database: Database, page: Page
) -> None:
    for winner, loser, texts in ((ALPHA, BETA, [LONG, "Short."]), (GAMMA, BETA, ["Short.", LONG])) * 2:
        pairwise_vote(database, seed_turn(database, models=[winner, loser], texts=texts), "A")
    _bench_run(database, random.Random(3))  # its verdicts name no answers: style control leaves them out
    every = httpx.get(f"{arena.url}/api/leaderboard", params={"rounds": 0}).json()["total_battles"]

    page.goto(f"{arena.url}/leaderboard")
    page.get_by_label("Style control").check()
    expect(page.locator("#style-coefficients tbody tr")).to_have_count(4)
    rounds = page.locator("#main").get_attribute("data-rounds")
    api = httpx.get(f"{arena.url}/api/leaderboard", params={"rounds": rounds, "style_control": "true"}).json()
    left_out = api["style"]["battles_without_style"]
    assert left_out > 0 and api["total_battles"] + left_out == every
    assert sum(api["battles_by_source"].values()) == api["total_battles"] == 4
    expect(page.locator("#leaderboard-summary")).to_contain_text(
        f"4 battles (4 human, 0 judge) · {left_out} left out by style control"
    )
