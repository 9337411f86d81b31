"""In Chromium: "Suggest a pair" fills a blind battle with the pair the leaderboard needs most, the
voter names the prompt's category, and the vote counts on that category's leaderboard; the
leaderboard page says how many votes would separate its neighbours."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from arena.storage.db import Database
from tests.support.browser import open_arena, send, wait_until_answered
from tests.support.builders import pairwise_vote, seed_turn
from tests.support.fixtures import ArenaFactory, DoubleFactory, arena_database
from tests.support.server import RunningArena

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

LLAMA, QWEN = "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"


@pytest.fixture
def arena(double_factory: DoubleFactory, arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(ollama_hosts=[double_factory().url], embedded_enabled=False)


database = arena_database


def test_a_suggested_blind_pair_takes_a_vote_in_a_category(arena: RunningArena, database: Database, page: Page) -> None:
    # An earlier vote named "maths": the page offers it.
    earlier = seed_turn(database, models=[LLAMA, QWEN])
    with arena.client() as client:
        client.post(
            f"/api/conversations/{earlier.conversation_id}/votes",
            json={"turn_id": earlier.turn_id, "kind": "pairwise", "value": "tie", "category": "maths"},
        ).raise_for_status()

    open_arena(page, arena.url)
    suggest = page.get_by_role("button", name="Suggest a pair")
    expect(suggest).to_be_hidden()  # only for a blind battle
    page.get_by_label("Blind mode").check()
    suggest.click()
    expect(page.locator("#suggest-pair-note")).to_contain_text("Suggested:")
    expect(page.locator("#instance-chips .chip")).to_have_count(2)
    assert sorted(page.locator("#instance-chips .chip").evaluate_all("chips => chips.map(c => c.title)")) == [
        LLAMA,
        QWEN,
    ]
    assert page.locator("#vote-categories option").evaluate_all("os => os.map(o => o.value)") == ["maths"]

    send(page, "Write a haiku about rain.")
    wait_until_answered(page, cards=2, turns=1)
    expect(page.locator("#suggest-pair-note")).to_be_empty()  # said before the battle, not during it
    page.get_by_label("Prompt category").fill("poetry")
    pairwise = page.get_by_role("group", name="Which answer is better?")
    pairwise.get_by_role("button", name="A is better").click()
    expect(pairwise.get_by_role("button", name="A is better")).to_have_attribute("aria-pressed", "true")

    page.get_by_role("button", name="Reveal models").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Reveal").click()
    expect(page.locator(".reveal-table")).to_be_visible()
    with arena.client() as client:
        poetry = client.get("/api/leaderboard", params={"category": "poetry", "rounds": 50}).json()
    assert poetry["total_battles"] == 1 and poetry["battles_by_source"]["human"] == 1

    page.get_by_role("button", name="New comparison").click()  # a new battle starts without a category
    page.get_by_label("Blind mode").check()
    expect(page.get_by_label("Prompt category")).to_be_hidden()
    expect(page.get_by_label("Prompt category")).to_have_value("")


def test_the_leaderboard_page_says_how_many_votes_would_separate_neighbours(
    arena: RunningArena, database: Database, page: Page
) -> None:
    for value in ["A"] * 6 + ["B"] * 4:
        pairwise_vote(database, seed_turn(database, models=[LLAMA, QWEN]), value)

    page.goto(f"{arena.url}/leaderboard")

    line = page.locator("#separation li")
    expect(line).to_have_count(1)
    expect(line).to_contain_text("more votes between them for an 80% chance that their intervals separate")
    assert int(line.get_attribute("data-votes") or "0") > 0
