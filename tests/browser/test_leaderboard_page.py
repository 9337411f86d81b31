"""The /leaderboard page in a real headless Chromium: interval bars, the heatmap, live updates.

The shared `page` (tests/browser/conftest.py) fails a test on uncaught errors, CSP violations,
dialogs and requests to other hosts; this module also fails on any console error."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from arena.storage.db import Database
from tests.support.builders import pairwise_vote, seed_turn
from tests.support.fixtures import ArenaFactory, arena_database
from tests.support.server import RunningArena

pytestmark = pytest.mark.browser

ALPHA, BETA, GAMMA = "ollama:alpha", "ollama:beta", "ollama:gamma"


@pytest.fixture
def arena(arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(embedded_enabled=False)


# Here `database` is the running arena's own, not the shared SQLite+PostgreSQL one.
database = arena_database


@pytest.fixture(autouse=True)
def no_console_errors(page: Page) -> Iterator[None]:
    """Stricter than the shared `page` checks: no console error at all on this page."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":  # CSP violations and failed loads land here
            problems.append(message.text)

    page.on("console", on_console)
    yield
    assert problems == []


def vote(database: Database, winner: str, loser: str, times: int = 1) -> None:
    for _ in range(times):
        pairwise_vote(database, seed_turn(database, models=[winner, loser]), "A")


def test_ratings_show_interval_bars_and_a_win_rate_heatmap_that_follow_new_votes(
    arena: RunningArena, database: Database, page: Page
) -> None:
    vote(database, ALPHA, BETA, 5)
    vote(database, BETA, GAMMA, 3)
    vote(database, ALPHA, GAMMA, 1)

    page.goto(f"{arena.url}/leaderboard")

    rows = page.locator("#ratings tbody tr")
    expect(rows).to_have_count(3)
    assert [rows.nth(i).get_attribute("data-model") for i in range(3)] == [ALPHA, BETA, GAMMA]

    # Each bar shows the API's own interval, on one scale shared by all rows.
    rounds = page.locator("#main").get_attribute("data-rounds")
    api = httpx.get(f"{arena.url}/api/leaderboard", params={"rounds": rounds}).json()
    ranges = page.locator("#ratings svg.ci-bar rect.ci-range")
    expect(ranges).to_have_count(3)
    for index, row in enumerate(api["rows"]):
        bar = ranges.nth(index)
        assert float(bar.get_attribute("data-low")) == pytest.approx(row["ci_low"])
        assert float(bar.get_attribute("data-high")) == pytest.approx(row["ci_high"])
        x, width = float(bar.get_attribute("x")), float(bar.get_attribute("width"))
        point = float(page.locator("#ratings svg.ci-bar circle.ci-point").nth(index).get_attribute("cx"))
        assert x <= point <= x + width  # the rating lies inside its interval
        assert bar.bounding_box()["width"] > 0  # drawn, not just in the DOM
    lows = [float(ranges.nth(i).get_attribute("x")) for i in range(3)]
    assert lows == sorted(lows, reverse=True)  # lower bounds fall with the ratings: one shared scale

    cells = page.locator("#heatmap tbody td")
    expect(cells).to_have_count(9)
    expect(page.locator("#heatmap tbody td.self")).to_have_count(3)
    won = page.locator("#heatmap tbody tr").nth(0).locator("td").nth(1)  # alpha against beta
    lost = page.locator("#heatmap tbody tr").nth(1).locator("td").nth(0)  # beta against alpha
    expect(won).to_have_text("100%")
    expect(lost).to_have_text("0%")
    colour = "element => getComputedStyle(element).backgroundColor"
    assert won.evaluate(colour) != lost.evaluate(colour)  # the heat is drawn from the rate
    expect(page.locator("#leaderboard-summary")).to_have_attribute("data-total-battles", "9")

    # A vote arrives; the page picks it up as soon as it regains focus.
    vote(database, GAMMA, ALPHA, 4)
    page.evaluate("window.dispatchEvent(new Event('focus'))")
    expect(page.locator("#leaderboard-summary")).to_have_attribute("data-total-battles", "13", timeout=10_000)
    expect(page.locator("#heatmap tbody tr").nth(0).locator("td").nth(2)).not_to_have_text("50%")

    # A filter with no battles empties the board and says why.
    page.select_option("select[name=source]", "judge")
    expect(rows).to_have_count(0)
    expect(page.locator("#ratings-empty")).to_be_visible()
    expect(page.locator("#leaderboard-error")).to_be_hidden()


def test_the_page_polls_on_its_own_while_visible(arena: RunningArena, database: Database, page: Page) -> None:
    vote(database, ALPHA, BETA)
    page.goto(f"{arena.url}/leaderboard")
    expect(page.locator("#leaderboard-summary")).to_have_attribute("data-total-battles", "1")

    vote(database, BETA, ALPHA)

    seconds = int(page.locator("#main").get_attribute("data-poll-seconds"))
    summary = page.locator("#leaderboard-summary")
    expect(summary).to_have_attribute("data-total-battles", "2", timeout=(seconds + 5) * 1000)
