"""The /leaderboard page in a real headless Chromium: interval bars, the heatmap, live updates.

The shared `page` (tests/browser/conftest.py) fails a test on uncaught errors, CSP violations,
dialogs and requests to other hosts; this module also fails on any console error."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from arena.evaluation.ratings.standings import ELO_K
from arena.storage.db import Database
from tests.support.browser import ARTIFACTS
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


# Eight instances of models with long names, at settings that differ only late in the id: what
# made the raw ids overflow the page and the heatmap headers all read the same.
LONG = "ollama:a-rather-long-model-name-that-keeps-going-and-going-v2:70b-instruct-q4_K_M"
TEMPERATURES = [0.2, 0.4, 0.6, 0.8, 1.0, 1.2]


def crowded_board(database: Database) -> list[str]:
    """Every pair of six instances of one long-named model and two other models meets once,
    the earlier one winning; the eight instance ids."""
    entrants = [(LONG, t) for t in TEMPERATURES] + [(ALPHA, 0.7), (BETA, 0.7)]
    ids: list[str] = []
    for (first, t_first), (second, t_second) in combinations(entrants, 2):
        turn = seed_turn(database, models=[first, second], temperatures=[t_first, t_second])
        pairwise_vote(database, turn, "A")
        ids += [i for i in turn.instance_ids if i not in ids]
    return ids


def no_sideways_scroll(page: Page) -> None:
    """The page itself never scrolls sideways; each table fits or scrolls inside its own box."""
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for box in page.locator(".table-scroll").all():
        bounds = box.bounding_box()
        assert bounds is not None and bounds["x"] >= 0 and bounds["x"] + bounds["width"] <= width + 0.5


def test_instances_get_readable_distinct_names_and_the_page_fits_a_desktop_and_a_phone(
    arena: RunningArena, database: Database, page: Page
) -> None:
    ids = crowded_board(database)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{arena.url}/leaderboard")
    page.select_option("select[name=by]", "instance")

    rows = page.locator("#ratings tbody tr")
    expect(rows).to_have_count(8)
    expect(page.locator("#unit-heading")).to_have_text("Instance")
    names = page.locator("#ratings tbody th.model").all_inner_texts()
    expected = {
        f"a-rather-long-model-name-that-keeps-going-and-going-v2:70b-instruct-q4_K_M · temp {t}" for t in TEMPERATURES
    }
    assert expected | {"alpha", "beta"} == set(names)  # no raw id, no engine prefix: model and its setting
    for row in rows.all():  # the full id is a hover away
        assert row.get_attribute("data-model") in row.locator("th.model").get_attribute("title")
    assert {row.get_attribute("data-model") for row in rows.all()} == set(ids)

    headers = page.locator("#heatmap thead th.model")
    expect(headers).to_have_count(8)
    texts = headers.all_inner_texts()
    assert len(set(texts)) == 8, texts  # every column tells itself apart
    visible = [header.evaluate("e => e.scrollWidth <= e.clientWidth") for header in headers.all()]
    assert all(visible), "a column header is clipped"
    row_headers = page.locator("#heatmap tbody th.model").all_inner_texts()
    for number, (header, name) in enumerate(zip(texts, names, strict=True), start=1):
        assert header == str(number) and str(number) in row_headers[number - 1] and name in row_headers[number - 1]
        assert name in headers.nth(number - 1).get_attribute("title")
    no_sideways_scroll(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "leaderboard-instances-1440.png"), full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    expect(rows).to_have_count(8)
    no_sideways_scroll(page)
    page.screenshot(path=str(ARTIFACTS / "leaderboard-instances-390.png"), full_page=True)
    name_cell = page.locator("#ratings tbody th.model").first  # pinned while the table scrolls
    page.locator(".table-scroll").first.evaluate("box => { box.scrollLeft = box.scrollWidth; }")
    bounds, box = name_cell.bounding_box(), page.locator(".table-scroll").first.bounding_box()
    assert bounds is not None and box is not None and box["x"] <= bounds["x"] < box["x"] + box["width"]


def test_the_page_says_what_rating_and_elo_are_and_why_they_differ(
    arena: RunningArena, database: Database, page: Page
) -> None:
    vote(database, ALPHA, BETA, 4)
    page.goto(f"{arena.url}/leaderboard")
    expect(page.locator("#ratings tbody tr")).to_have_count(2)
    help_box = page.locator("#ratings-help")
    expect(help_box.locator("dd").first).to_be_hidden()  # a click away, not in the way

    help_box.locator("summary").click()

    expect(help_box).to_contain_text("Bradley–Terry fit of every battle at once")
    expect(help_box).to_contain_text("order of the battles")
    expect(help_box.locator(".elo-k")).to_have_text(f"K = {ELO_K:g}")  # as the server computes it
    expect(page.locator("#ratings thead th.elo")).to_have_text("Elo (online)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#ratings").locator("xpath=ancestor::section").screenshot(path=str(ARTIFACTS / "leaderboard-help.png"))
