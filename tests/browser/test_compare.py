"""Comparing real SmolLM2 instances in the browser: pick, stream side by side, converse, reload."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.support.browser import ARTIFACTS, add_instance, last_turn, open_arena, send, wait_until_answered
from tests.support.fixtures import ArenaFactory
from tests.support.models import SMOL
from tests.support.server import RunningArena

pytestmark = pytest.mark.browser

STREAMING_LOG = (Path(__file__).parent / "streaming_log.js").read_text()


@pytest.fixture(scope="module")
def arena(module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory()


def wait_for(check, timeout_s: float = 90.0):
    """Poll `check` until it returns something truthy (the page's CSP rules out wait_for_function)."""
    deadline = time.monotonic() + timeout_s
    while (found := check()) is None or found is False:
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return found


def stored(arena: RunningArena, page: Page) -> dict:
    """The open conversation as the server has it (its id is in the page's address)."""
    conversation_id = page.url.split("#c=", 1)[1]
    with arena.client() as client:
        return client.get(f"/api/conversations/{conversation_id}").json()


def test_two_temperatures_stream_side_by_side_and_finish_with_metrics(
    arena: RunningArena, context: BrowserContext, page: Page
) -> None:
    page.add_init_script(STREAMING_LOG)
    open_arena(page, arena.url)
    add_instance(page, SMOL, temperature=0.2, num_predict=12)
    add_instance(page, SMOL, temperature=1.3, num_predict=12)
    expect(page.locator("#instance-chips .chip-label")).to_have_text(
        ["smollm2-135m (T=0.2 P=0.9 K=40 M=12)", "smollm2-135m (T=1.3 P=0.9 K=40 M=12)"]
    )

    send(page, "Name three colours of the sea.")
    wait_until_answered(page, cards=2, turns=1)

    cards = last_turn(page).locator(".card")
    expect(cards).to_have_count(2)
    expect(cards.locator(".card-title")).to_have_text(
        [re.compile(r"smollm2-135m\s+T=0\.2 P=0\.9 K=40 M=12"), re.compile(r"smollm2-135m\s+T=1\.3 P=0\.9 K=40 M=12")]
    )
    detail = stored(arena, page)
    [turn] = detail["turns"]
    responses = {r["key"]: r for r in turn["responses"]}
    assert all(r["status"] == "ok" for r in responses.values())

    # Streamed live: each card was "streaming" and its text grew several times before it was done.
    log = page.evaluate("window.__cardLog")
    for key in responses:
        entry = log[f"{turn['id']}/{key}"]
        assert entry["statuses"][-2:] == ["streaming", "ok"], entry["statuses"]
        assert len(set(entry["streamedLengths"])) >= 2, "the answer arrived in pieces, not at once"

    for index in range(2):
        card = cards.nth(index)
        response = responses[card.get_attribute("data-key")]
        expect(card).to_have_attribute("data-status", "ok")
        expect(card.locator("[data-metric=tokens] dd")).to_have_text(str(response["tokens"]))
        assert 0 < response["tokens"] <= 12
        expect(card.locator("[data-metric=rate] dd")).to_have_text(re.compile(r"^\d+(\.\d)? tok/s$"))
        expect(card.locator("[data-metric=ttft] dd")).to_have_text(re.compile(r"^\d+(\.\d+)? m?s$"))
        expect(card.locator("[data-metric=duration] dd")).to_have_text(re.compile(r"^\d+(\.\d+)? m?s$"))
        assert card.locator(".answer").inner_text().strip()

    # The crown goes to the higher tokens/s, as the server measured it; unless a model loaded in
    # this round (the first answers after a start), which slows every answer beside it.
    if any((r["load_s"] or 0) >= 0.1 for r in responses.values()):
        expect(last_turn(page).locator(".card.fastest")).to_have_count(0)
        expect(cards.locator(".card-note")).to_contain_text(["speed not compared", "speed not compared"])
    elif min(r["tokens_per_sec"] for r in responses.values()) >= 0.95 * max(r["tokens_per_sec"] for r in responses.values()):
        # Within 5%: noise, not a winner.
        expect(last_turn(page).locator(".card.fastest")).to_have_count(0)
        expect(cards.locator(".card-note")).to_contain_text(["no clear winner", "no clear winner"])
    else:
        fastest = max(responses.values(), key=lambda r: r["tokens_per_sec"])
        expect(last_turn(page).locator(".card.fastest")).to_have_count(1)
        expect(last_turn(page).locator(".card.fastest")).to_have_attribute("data-key", fastest["key"])
        expect(last_turn(page).locator(".card.fastest .crown")).to_be_visible()

    # Copy gives the answer's own text (the Markdown source), not the rendered page text.
    first = cards.first
    first.get_by_role("button", name="Copy").click()
    expect(page.locator(".toast")).to_contain_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == responses[first.get_attribute("data-key")]["text"]

    ARTIFACTS.mkdir(exist_ok=True)
    page.locator(".toast button").first.click()
    page.screenshot(path=str(ARTIFACTS / "comparison.png"))


def test_hyperparameters_out_of_range_duplicates_and_too_many_are_refused(arena: RunningArena, page: Page) -> None:
    open_arena(page, arena.url)
    error = page.locator("#picker-error")

    add_instance(page, SMOL, temperature=3)
    expect(error).to_have_text(re.compile(r"Temperature must be between 0\.01 and 2"))
    expect(page.locator("#param-temperature")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#instance-chips li")).to_have_count(0)

    add_instance(page, SMOL, top_k=2.5)
    expect(error).to_have_text(re.compile(r"Top K must be a whole number between 0 and 100"))

    add_instance(page, SMOL, temperature=0.5)
    expect(error).to_be_hidden()
    add_instance(page, SMOL, temperature=0.5)
    expect(error).to_have_text(re.compile(r"already in the comparison"))
    expect(page.locator("#instance-chips li")).to_have_count(1)

    for seed in range(1, 8):  # ARENA_MAX_INSTANCES is 8 by default (issue 10)
        add_instance(page, SMOL, temperature=0.5, seed=seed)
    expect(page.locator("#instance-chips li")).to_have_count(8)
    expect(page.locator("#instance-chips .chip-label").last).to_have_text("smollm2-135m (T=0.5 P=0.9 K=40 S=7)")
    add_instance(page, SMOL, temperature=0.5, seed=99)
    expect(error).to_have_text(re.compile(r"At most 8"))

    page.get_by_role("button", name=re.compile(r"^Remove smollm2-135m \(T=0\.5 P=0\.9 K=40 S=7\)")).click()
    expect(page.locator("#instance-chips li")).to_have_count(7)


def test_conversation_continues_survives_reload_and_narrows_to_one_model(
    arena: RunningArena, context: BrowserContext, page: Page
) -> None:
    open_arena(page, arena.url)
    add_instance(page, SMOL, temperature=0.3, num_predict=8, seed=5)
    add_instance(page, SMOL, temperature=0.9, num_predict=8, seed=5)
    send(page, "Say hello to the ocean.")
    wait_until_answered(page, cards=2, turns=1)
    conversation_id = stored(arena, page)["id"]

    # Reloading keeps the conversation open, from the server.
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#conversation-title")).to_have_text("Say hello to the ocean.")
    expect(page.locator(".turn-prompt")).to_have_text(["Say hello to the ocean."])
    expect(page.locator(".card[data-status=ok]")).to_have_count(2)
    expect(page.locator(".card [data-metric=tokens] dd")).to_have_count(2)

    # A fresh tab finds it in the sidebar.
    other = context.new_page()
    open_arena(other, arena.url)
    other.locator(f".session[data-id='{conversation_id}'] .session-open").click()
    expect(other.locator(".turn-prompt")).to_have_text(["Say hello to the ocean."])
    expect(other.locator("#instance-chips li")).to_have_count(2)
    other.close()

    # The next message continues the same conversation, each instance with its own context.
    send(page, "Now say goodbye.")
    wait_until_answered(page, cards=2, turns=2)
    detail = stored(arena, page)
    assert detail["id"] == conversation_id
    assert [t["user_text"] for t in detail["turns"]] == ["Say hello to the ocean.", "Now say goodbye."]

    # "Continue with this model" narrows the next message to that instance only.
    kept = last_turn(page).locator(".card").first
    kept_key = kept.get_attribute("data-key")
    kept.get_by_role("button", name="Continue with this model").click()
    expect(page.locator("#instance-chips li")).to_have_count(1)
    expect(page.locator("#compare-all")).to_be_visible()
    send(page, "One more word?")
    wait_until_answered(page, cards=1, turns=3)
    expect(last_turn(page).locator(".card")).to_have_count(1)
    expect(last_turn(page).locator(".card")).to_have_attribute("data-key", kept_key)
    page.locator("#compare-all").click()
    expect(page.locator("#instance-chips li")).to_have_count(2)

    # Regenerate answers a turn again for one instance, in place: no new turn.
    target = page.locator(".turn").first.locator(".card").last
    key = target.get_attribute("data-key")
    before = next(r for r in stored(arena, page)["turns"][0]["responses"] if r["key"] == key)
    target.get_by_role("button", name="Regenerate").click()
    regenerated = wait_for(
        lambda: next(
            (r for r in stored(arena, page)["turns"][0]["responses"] if r["key"] == key and r["id"] != before["id"] and r["status"] == "ok"),
            None,
        )
    )
    assert len(stored(arena, page)["turns"]) == 3
    expect(target).to_have_attribute("data-status", "ok")
    expect(target.locator("[data-metric=tokens] dd")).to_have_text(str(regenerated["tokens"]))
    expect(target.locator(".answer")).to_have_text(regenerated["text"].strip())


def test_sessions_are_searched_renamed_and_deleted(arena: RunningArena, page: Page) -> None:
    instance = {"model": SMOL, "num_predict": 4}
    with arena.client() as client:
        kept = client.post("/api/conversations", json={"title": "Tide tables", "model_instances": [instance]}).json()
        doomed = client.post("/api/conversations", json={"title": "Kelp forests", "model_instances": [instance]}).json()
    open_arena(page, arena.url)
    sessions = page.locator("#session-list .session")

    page.fill("#session-search", "tide")
    expect(sessions).to_have_count(1)
    expect(sessions.first).to_contain_text("Tide tables")

    page.get_by_role("button", name="Rename “Tide tables”").click()
    page.get_by_label("New title").fill("Tide tables, renamed")
    page.keyboard.press("Enter")
    expect(sessions.first).to_contain_text("Tide tables, renamed")
    with arena.client() as client:
        assert client.get(f"/api/conversations/{kept['id']}").json()["title"] == "Tide tables, renamed"

    page.fill("#session-search", "kelp")
    expect(sessions).to_have_count(1)
    page.get_by_role("button", name="Delete “Kelp forests”").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Kelp forests")
    dialog.get_by_role("button", name="Delete").click()
    expect(sessions).to_have_count(0)
    expect(page.locator("#session-empty")).to_contain_text("kelp")
    with arena.client() as client:
        assert client.get(f"/api/conversations/{doomed['id']}").status_code == 404
