"""The /judges page in a real headless Chromium, the warning under the bench page's judge picker, and
the leaderboard's note when every battle is a tie."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from arena.storage import judgments as judgment_store
from arena.storage.db import Database
from tests.support.browser import ARTIFACTS
from tests.support.builders import SeededTurn, pairwise_vote, seed_turn
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory, arena_database
from tests.support.screens import overflow
from tests.support.server import RunningArena

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

ALPHA, BETA = "ollama:alpha", "ollama:beta"
LLAMA, QWEN = "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"  # the double's models

database = arena_database  # the running arena's own


@pytest.fixture
def arena(double: OllamaDouble, arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(ollama_hosts=[double.url], embedded_enabled=False)


def verdict(database: Database, turn: SeededTurn, ab: str, ba: str, *, judge: str) -> None:
    winner = {("A", "B"): "a", ("B", "A"): "b"}.get((ab, ba), "tie")
    with database.session() as session:
        judgment_store.add_judgment(
            session, run_id="4" * 32, judge_model=judge, mode="pairwise", conversation_id=turn.conversation_id,
            turn_id=turn.turn_id, key_a=turn.instance_ids[0], key_b=turn.instance_ids[1], raw_ab="{}", raw_ba="{}",
            verdict_ab=ab, verdict_ba=ba, winner=winner, consistent=winner != "tie",
        )  # fmt: skip


def test_the_judges_page_flags_a_judge_that_flips_and_the_pickers_warn_of_it(
    arena: RunningArena, database: Database, page: Page
) -> None:
    for _ in range(5):
        verdict(database, seed_turn(database, models=[ALPHA, BETA]), "A", "A", judge=LLAMA)
    for human in ("A", "A"):
        turn = seed_turn(database, models=[ALPHA, BETA])
        verdict(database, turn, "A", "B", judge=QWEN)
        pairwise_vote(database, turn, human)

    page.goto(f"{arena.url}/judges")
    flipping = page.locator(f"#judges tbody tr[data-judge='{LLAMA}']")
    steady = page.locator(f"#judges tbody tr[data-judge='{QWEN}']")
    expect(flipping).to_have_class("unreliable")
    expect(flipping.locator(".consistency")).to_have_text("0%")
    expect(steady.locator(".consistency")).to_have_text("100%")
    expect(steady.locator(".agreement")).to_have_text("100%")
    expect(page.locator(".judge-warning")).to_contain_text(f"{LLAMA} was inconsistent on 5 of 5 pairs")
    expect(page.locator("#judges-summary")).to_have_text("2 judges · 7 pairs judged in both orders")
    expect(page.locator(".app-nav a[aria-current='page']")).to_have_text("Judges")
    page.screenshot(path=str(ARTIFACTS / "judges-page.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    expect(flipping).to_be_visible()
    assert overflow(page) == []  # the wide table scrolls in its own box, not the page
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(f"{arena.url}/bench")
    expect(page.locator("#judge-model option")).to_have_count(3)  # "No judge" and the double's two
    note = page.locator(".judge-trust")
    page.select_option("#judge-model", LLAMA)
    expect(note).to_be_visible()
    expect(note).to_contain_text("bigger judge")
    page.select_option("#judge-model", QWEN)
    expect(note).to_be_hidden()


def test_the_leaderboard_says_when_every_battle_is_a_tie(arena: RunningArena, database: Database, page: Page) -> None:
    for _ in range(3):
        verdict(database, seed_turn(database, models=[ALPHA, BETA]), "A", "A", judge=LLAMA)
    page.goto(f"{arena.url}/leaderboard")
    expect(page.locator("#all-ties")).to_be_visible()
    expect(page.locator("#all-ties")).to_contain_text("Every battle is a tie")
    page.screenshot(path=str(ARTIFACTS / "leaderboard-all-ties.png"), full_page=True)
    expect(page.locator("#ratings tbody tr")).to_have_count(2)  # the board is still shown, beside the note
