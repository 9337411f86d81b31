"""A page showing an answer that another tab has since regenerated: its vote is refused, the page
says so and shows the new answer; a judge verdict about a replaced answer says it is about an
earlier one."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from arena.storage import judgments as judgment_store
from arena.storage import repository
from arena.storage import votes as vote_store
from arena.storage.db import Database
from tests.support.browser import open_arena
from tests.support.builders import SeededTurn, seed_turn
from tests.support.fixtures import ArenaFactory, arena_database
from tests.support.server import RunningArena

pytestmark = pytest.mark.browser

MODELS = ["ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"]
REPLACED = "was replaced by a newer one (regenerated meanwhile): your vote was not recorded"


@pytest.fixture(scope="module")
def arena(module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(embedded_enabled=False)


database = arena_database


def regenerate(database: Database, turn: SeededTurn, n: int, text: str) -> int:
    """What another tab's regenerate leaves behind: a newer finished answer of instance `n`."""
    with database.session() as session:
        response = repository.start_response(
            session, turn_id=turn.turn_id, instance_id=turn.instance_ids[n], generation_round=1
        )
        repository.finish_response(session, response_id=response.id, text=text, status="ok")
        return response.id


def votes(database: Database, turn: SeededTurn) -> list[tuple[str, str, int | None]]:
    with database.session() as session:
        return [(v.kind, v.value, v.response_id) for v in vote_store.list_votes(session, turn_id=turn.turn_id)]


def test_a_vote_on_an_answer_regenerated_elsewhere_is_refused_and_the_page_shows_the_new_one(
    arena: RunningArena, page: Page, database: Database
) -> None:
    turn = seed_turn(database, models=MODELS, texts=["old answer of A", "old answer of B"], blind=True)
    open_arena(page, f"{arena.url}/#c={turn.conversation_id}")
    cards = page.locator(".card")
    expect(cards.nth(0).locator(".answer")).to_have_text("old answer of A")

    newer_a = regenerate(database, turn, 0, "new answer of A")
    good_a = cards.nth(0).get_by_role("button", name="Good answer from Model A")
    good_a.click()

    expect(page.locator(".toast.error")).to_contain_text(f"the answer of Model A you voted on {REPLACED}")
    expect(cards.nth(0).locator(".answer")).to_have_text("new answer of A")
    expect(good_a).to_have_attribute("aria-pressed", "false")
    assert votes(database, turn) == []

    # The same holds for the pairwise choice; on the answers now shown, both votes count.
    regenerate(database, turn, 1, "new answer of B")
    pairwise = page.get_by_role("group", name="Which answer is better?")
    pairwise.get_by_role("button", name="A is better").click()
    expect(page.locator(".toast.error").last).to_contain_text(f"the answer of Model B you voted on {REPLACED}")
    expect(cards.nth(1).locator(".answer")).to_have_text("new answer of B")
    assert votes(database, turn) == []

    good_a.click()
    expect(good_a).to_have_attribute("aria-pressed", "true")
    pairwise.get_by_role("button", name="A is better").click()
    expect(pairwise.get_by_role("button", name="A is better")).to_have_attribute("aria-pressed", "true")
    assert votes(database, turn) == [("thumb", "up", newer_a), ("pairwise", "A", None)]


def test_a_verdict_about_a_replaced_answer_says_so_under_its_turn(
    arena: RunningArena, page: Page, database: Database
) -> None:
    turn = seed_turn(database, models=MODELS, texts=["Paris.", "Berlin."])
    with database.session() as session:
        judgment_store.add_judgment(
            session, run_id="1" * 32, judge_model="ollama:judge", mode="pairwise", conversation_id=turn.conversation_id,
            turn_id=turn.turn_id, key_a=turn.instance_ids[0], key_b=turn.instance_ids[1], raw_ab="{}", raw_ba="{}",
            verdict_ab="A", verdict_ba="B", winner="a", consistent=True, response_a_id=turn.response_ids[0],
            response_b_id=turn.response_ids[1],
        )  # fmt: skip
    open_arena(page, f"{arena.url}/#c={turn.conversation_id}")
    verdict = page.locator(".judgment")
    expect(verdict).to_have_count(1)
    expect(verdict.locator(".judgment-earlier")).to_have_count(0)

    regenerate(database, turn, 1, "Rome.")
    page.reload()
    expect(verdict.locator(".judgment-earlier")).to_have_text(
        "About an earlier answer: regenerated since. It is kept, and counts as a battle between the answers it judged."
    )
