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
from tests.support.browser import open_arena, send, wait_until_answered
from tests.support.builders import SeededTurn, seed_turn
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory, DoubleFactory, arena_database
from tests.support.server import RunningArena, ndjson_lines

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


def test_a_vote_after_another_tab_regenerated_during_this_tabs_stream_is_refused(
    page: Page, double_factory: DoubleFactory, arena_factory: ArenaFactory
) -> None:
    """The two-tab race: this tab's stream ends (and reads the conversation again) after another
    tab regenerated an answer; the card still shows the old text, so its vote must not count
    for the new answer."""
    double: OllamaDouble = double_factory()
    double.reply, double.token_delay = [f" word{i}" for i in range(40)], 0.05
    arena = arena_factory(ollama_hosts=[double.url], embedded_enabled=False)
    instances = [{"model": MODELS[0], "num_predict": 2}, {"model": MODELS[0], "num_predict": 40}]
    with arena.client() as client:
        created = client.post("/api/conversations", json={"blind": True, "model_instances": instances}).json()
    open_arena(page, f"{arena.url}/#c={created['id']}")
    send(page, "Tell me a long story about a cat")

    # One answer is in while the other still streams: another tab regenerates the finished one.
    done = page.locator(".card[data-status=ok]")
    expect(done).to_have_count(1)
    expect(page.locator(".card[data-status=streaming]")).to_have_count(1)
    label = done.locator(".card-title").inner_text()
    shown = done.locator(".answer").inner_text()
    double.reply = [" New", " answer"]
    body = {"conversation_id": created["id"], "regenerate": {"turn_id": None, "key": label}}
    with arena.client() as client:
        turn_id = client.get(f"/api/conversations/{created['id']}").json()["turns"][0]["id"]
        body["regenerate"]["turn_id"] = turn_id
        with client.stream("POST", "/api/stream_chat?format=arena", json=body) as response:
            assert response.status_code == 200
            regenerated = [e for e in ndjson_lines(response) if e.get("done")]
    assert [e.get("status") for e in regenerated] == [None]  # it finished well

    wait_until_answered(page, cards=2, turns=1)  # this tab's stream ended, then read the detail again
    card = page.locator(".card", has=page.locator(".card-title", has_text=label))
    expect(card.locator(".answer")).to_have_text(shown)  # still the answer this tab streamed
    good = card.get_by_role("button", name=f"Good answer from {label}")
    good.click()

    expect(page.locator(".toast.error")).to_contain_text(f"the answer of {label} you voted on {REPLACED}")
    expect(card.locator(".answer")).to_have_text("New answer")
    with arena.database() as database:
        with database.session() as session:
            assert vote_store.list_votes(session, turn_id=turn_id) == []
