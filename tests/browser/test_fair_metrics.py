"""Fair metrics as a user sees them, with real SmolLM2: what each card says about its cache and
token limit, who gets the crown, and what a blind page shows before the reveal."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import ARTIFACTS, add_instance, last_turn, open_arena, send, wait_until_answered
from tests.support.fixtures import ArenaFactory
from tests.support.models import SMOL
from tests.support.server import RunningArena

pytestmark = pytest.mark.browser

AT_LIMIT = "stopped at the token limit"
ALONE = "regenerated alone — speed not compared"
HIDDEN = "speed and token counts hidden until the reveal"
# What an embedded answer's card says: a cold cache and, when it loaded the model, the load.
NO_CLEAR_WINNER = "within 5% — no clear winner"
COLD = re.compile(
    r"^(first token includes model load [\d.]+ m?s — speed not compared · )?cold prompt cache( · within 5% — no clear winner)?$"
)
COLD_OR_TIED = re.compile(r"^cold prompt cache( · within 5% — no clear winner)?$")


@pytest.fixture(scope="module")
def arena(module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory()


def stored_answers(arena: RunningArena, page: Page) -> dict[str, dict]:
    conversation_id = page.url.split("#c=", 1)[1]
    with arena.client() as client:
        detail = client.get(f"/api/conversations/{conversation_id}").json()
    return {r["key"]: r for r in detail["turns"][0]["responses"]}


def expect_crown_unless_within_5_percent(page: Page, rates: list[float]) -> None:
    """Two answers measured alike: one crown, unless their speeds are within 5% (noise)."""
    turn = last_turn(page)
    if min(rates) >= max(rates) * 0.95:
        expect(turn.locator(".card.fastest")).to_have_count(0)
        expect(turn.locator(".card-note", has_text=NO_CLEAR_WINNER)).to_have_count(2)
    else:
        expect(turn.locator(".card.fastest")).to_have_count(1)


def regenerate(page: Page, card_index: int, then: Callable[[], None] | None = None) -> None:
    card = last_turn(page).locator(".card").nth(card_index)
    card.get_by_role("button", name="Regenerate").click()
    if then is not None:
        then()
    expect(card).to_have_attribute("data-status", "waiting")
    expect(card).to_have_attribute("data-status", re.compile("ok|error|stopped"), timeout=120_000)


def test_cards_say_cache_state_and_token_limit_and_the_crown_skips_a_lone_regenerate(
    arena: RunningArena, page: Page
) -> None:
    open_arena(page, arena.url)
    add_instance(page, SMOL, temperature=0.2, num_predict=3, seed=5)
    add_instance(page, SMOL, temperature=1.0, num_predict=40, seed=5)
    send(page, "Say yes.")
    wait_until_answered(page, cards=2, turns=1)
    # The first answers of a model load it (into each of its two slots): no crown that round.
    first = last_turn(page).locator(".card")
    if last_turn(page).locator(".card-note", has_text="model load").count():
        expect(last_turn(page).locator(".card.fastest")).to_have_count(0)
        expect(first.locator(".card-note")).to_contain_text(["speed not compared", "speed not compared"])
    send(page, "Say yes.")
    wait_until_answered(page, cards=2, turns=2)
    cards = last_turn(page).locator(".card")

    # The models are loaded now. The embedded engine starts every answer from a cold cache, and
    # the card says so.
    expect(cards.locator(".card-note")).to_have_text([COLD_OR_TIED, COLD_OR_TIED])
    expect(cards.first.locator(".metrics")).to_have_attribute("title", re.compile("First token: from sending"))
    # Three tokens allowed: that answer stopped at the limit, and its status says so.
    expect(cards.first.locator(".card-status")).to_have_text(AT_LIMIT)
    answers = stored_answers(arena, page)
    for index in range(2):
        card = cards.nth(index)
        reason = answers[card.get_attribute("data-key") or ""]["finish_reason"]
        expect(card.locator(".card-status")).to_have_text(AT_LIMIT if reason == "length" else "done")
    # Measured alike (one round, cold, both ok): the crown goes to one of them, unless within 5%.
    with arena.client() as client:
        detail = client.get(f"/api/conversations/{page.url.split('#c=', 1)[1]}").json()
    expect_crown_unless_within_5_percent(page, [r["tokens_per_sec"] for r in detail["turns"][-1]["responses"]])

    # Regenerated alone, the second card ran without the first sharing the cores: not compared.
    regenerate(page, 1)
    expect(cards.nth(1).locator(".card-note")).to_have_text(f"cold prompt cache · {ALONE}")
    expect(last_turn(page).locator(".card.fastest")).to_have_count(0)
    expect(cards.first.locator(".card-note")).to_have_text("cold prompt cache")

    # The server remembers the round: after a reload the page says the same.
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(last_turn(page).locator(".card").nth(1).locator(".card-note")).to_have_text(f"cold prompt cache · {ALONE}")
    expect(last_turn(page).locator(".card.fastest")).to_have_count(0)
    expect(last_turn(page).locator(".card").first.locator(".card-status")).to_have_text(AT_LIMIT)


def test_a_third_answer_that_waited_for_a_free_slot_says_so_and_never_gets_the_crown(
    arena: RunningArena, page: Page
) -> None:
    """Two embedded slots (the test settings), three answers: the third starts when another ends."""
    open_arena(page, arena.url)
    for seed in (1, 2, 3):
        add_instance(page, SMOL, temperature=0.7, num_predict=8, seed=seed)
    send(page, "Name an animal.")
    wait_until_answered(page, cards=3, turns=1)
    waited = re.compile(r"^waited [\d.]+ m?s for a free slot — speed not compared · cold prompt cache$")
    turn = last_turn(page)
    expect(turn.locator(".card-note").filter(has_text="for a free slot")).to_have_count(1)
    expect(turn.locator(".card.fastest .card-note").filter(has_text="for a free slot")).to_have_count(0)
    together = [r["tokens_per_sec"] for r in stored_answers(arena, page).values() if not r["wait_s"]]
    expect_crown_unless_within_5_percent(page, together)  # the two generated together are compared

    # Stored with the answer: a reload says the same and crowns the same card.
    fastest = turn.locator(".card.fastest").get_attribute("data-key") if turn.locator(".card.fastest").count() else None
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    turn = last_turn(page)
    expect(turn.locator(".card-note").filter(has_text=waited)).to_have_count(1)
    if fastest is None:
        expect(turn.locator(".card.fastest")).to_have_count(0)
    else:
        expect(turn.locator(".card.fastest")).to_have_attribute("data-key", fastest)


CROWN_OF = """async (rows) => {
    const { createCard } = await import("/static/js/arena/cards.js");
    const { updateCrown } = await import("/static/js/arena/transcript.js");
    const handlers = { stop() {}, regenerate() {}, copy() {}, continueWith: null, vote: null };
    const cards = new Map();
    for (const [key, rate, cached, prompt, more] of rows) {
        const metrics = { prompt_tokens: prompt, tokens: 50, ttft_s: 0.01, duration_s: 1, tokens_per_sec: rate,
            cached_prompt_tokens: cached, prompt_s: 0.1, finish_reason: "stop", wait_s: 0, load_s: null,
            engine_timed: false, ...more };
        const card = createCard({ turnId: 1, key, title: key, params: "", handlers });
        card.finish({ status: "ok", metrics });
        cards.set(key, card);
    }
    updateCrown(cards);
    return [...cards.values()].map((card) => [card.key, card.node.classList.contains("fastest"),
        card.node.querySelector(".card-note").textContent]);
}"""


def test_the_crown_skips_a_warm_cache_a_wait_for_a_slot_and_an_unknown_cache_on_the_wall_clock(
    arena: RunningArena, page: Page
) -> None:
    open_arena(page, arena.url)
    rows = [
        ["warm", 90, 412, 420, {}],
        ["cold", 40, 0, 420, {}],
        ["waited", 120, 0, 420, {"wait_s": 1.2}],
        ["unknown", 100, None, None, {}],
        ["ollama", 60, None, 420, {"engine_timed": True, "load_s": 0.003}],
    ]
    assert page.evaluate(CROWN_OF, rows) == [
        ["warm", False, "412 of 420 prompt tokens cached — not in the crown"],
        ["cold", False, "cold prompt cache"],
        # Ran after the others had finished, under less load: its speed is not theirs.
        ["waited", False, "waited 1.20 s for a free slot — speed not compared · cold prompt cache"],
        # 100 tok/s may come from a warm cache nobody reported: a wall-clock rate cannot tell.
        ["unknown", False, "prompt cache not reported and speed from the wall clock — not in the crown"],
        # The engine's own generation clock (Ollama eval_duration) is not touched by a prompt cache;
        # a few milliseconds of "load" are Ollama's answer for a model already in memory.
        ["ollama", True, "prompt cache not reported by the engine"],
    ]

    # A model loading in the round (the first comparison after a start) slows every answer beside
    # it: no crown at all, and each card says why.
    loading = [["cold", 40, 0, 420, {}], ["fresh", 60, 0, 420, {"load_s": 1.2}], ["other", 30, 0, 420, {}]]
    assert page.evaluate(CROWN_OF, loading) == [
        ["cold", False, "cold prompt cache · a model was loading beside it — speed not compared"],
        ["fresh", False, "first token includes model load 1.20 s — speed not compared · cold prompt cache"],
        ["other", False, "cold prompt cache · a model was loading beside it — speed not compared"],
    ]


def test_no_crown_for_an_answer_run_beside_another_round_nor_when_the_fastest_is_within_5_percent(
    arena: RunningArena, page: Page
) -> None:
    open_arena(page, arena.url)
    # Another conversation (a judge, a bench item) generated beside "busy" alone: its speed is not theirs.
    contended = [["a", 50, 0, 420, {}], ["busy", 80, 0, 420, {"contended": True}], ["c", 40, 0, 420, {}]]
    assert page.evaluate(CROWN_OF, contended) == [
        ["a", True, "cold prompt cache"],
        ["busy", False, "other generations ran beside it — speed not compared · cold prompt cache"],
        ["c", False, "cold prompt cache"],
    ]
    # 38.1 against 37.6 tok/s is run-to-run noise: no winner, and the two say why.
    close = [["a", 38.1, 0, 420, {}], ["b", 37.6, 0, 420, {}], ["slow", 20, 0, 420, {}]]
    assert page.evaluate(CROWN_OF, close) == [
        ["a", False, "cold prompt cache · within 5% — no clear winner"],
        ["b", False, "cold prompt cache · within 5% — no clear winner"],
        ["slow", False, "cold prompt cache"],
    ]
    # Just over 5% apart: a clear winner. An answer out of the crown does not make a tie either.
    clear = [["a", 40, 0, 420, {}], ["b", 37.9, 0, 420, {}], ["warm", 39.5, 400, 420, {}]]
    assert [[key, fastest] for key, fastest, _ in page.evaluate(CROWN_OF, clear)] == [
        ["a", True], ["b", False], ["warm", False],
    ]


def test_blind_cards_hint_nothing_until_chosen_or_revealed_and_regenerate_reopens_the_pairwise_vote(
    arena: RunningArena, page: Page
) -> None:
    open_arena(page, arena.url)
    page.get_by_label("Blind mode").check()
    add_instance(page, SMOL, temperature=0.2, num_predict=6, seed=3)
    # Both stop at 6 tokens, whichever the shuffle names Model A.
    add_instance(page, SMOL, temperature=1.3, num_predict=6, seed=3)
    send(page, "Describe a wave in one sentence.")
    wait_until_answered(page, cards=2, turns=1)
    cards = last_turn(page).locator(".card")

    # Nothing about speed, tokens, cache or the token limit: only the text and the labels.
    for index in range(2):
        card = cards.nth(index)
        expect(card.locator(".metrics")).to_be_hidden()
        expect(card.locator(".crown")).to_be_hidden()
        expect(card.locator(".card-note")).to_have_text(HIDDEN)
        expect(card.locator(".card-status")).to_have_text("done")
    transcript = page.locator("#transcript").inner_text()
    assert "tok/s" not in transcript and "cache" not in transcript.replace(HIDDEN, "")
    # Nor does the server hand them to the page.
    assert {answer["tokens_per_sec"] for answer in stored_answers(arena, page).values()} == {None}
    switch = page.get_by_label("Show speed")
    expect(switch).to_be_visible()
    expect(switch).not_to_be_checked()
    expect(page.locator("#show-speed-hint")).to_contain_text("can tell the models apart")

    # A pairwise choice, then Model B answers again: the choice was about an answer now gone.
    pairwise = page.get_by_role("group", name="Which answer is better?")
    pairwise.get_by_role("button", name="A is better").click()
    expect(pairwise.get_by_role("button", name="A is better")).to_have_attribute("aria-pressed", "true")
    expect(pairwise.get_by_role("button", name="Tie")).to_be_disabled()
    expect(pairwise.locator(".vote-final")).to_contain_text("Votes are final")  # not greyed out unexplained
    # The notice shows at the click (toasts leave after a few seconds, before the answer is in).
    regenerate(page, 1, then=lambda: expect(page.locator("#toasts")).to_contain_text("so it was cleared"))
    for choice in ("A is better", "B is better", "Tie", "Both bad"):
        expect(pairwise.get_by_role("button", name=choice)).to_be_enabled()
        expect(pairwise.get_by_role("button", name=choice)).to_have_attribute("aria-pressed", "false")
    conversation_id = page.url.split("#c=", 1)[1]
    with arena.client() as client:
        assert client.get(f"/api/conversations/{conversation_id}").json()["pairwise_votes"] == []
    pairwise.get_by_role("button", name="B is better").click()
    expect(pairwise.get_by_role("button", name="B is better")).to_have_attribute("aria-pressed", "true")

    # The person chooses to see speed: metrics show, still under labels, and B is not compared.
    switch.check()
    expect(cards.nth(0).locator(".metrics")).to_be_visible()
    expect(cards.nth(1).locator(".card-note")).to_have_text(f"cold prompt cache · {ALONE}")
    expect(cards.locator(".card-title")).to_have_text(["Model A", "Model B"])
    expect(cards.first.locator(".card-status")).to_have_text(AT_LIMIT)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "blind-show-speed.png"))
    switch.uncheck()
    expect(cards.nth(0).locator(".metrics")).to_be_hidden()
    expect(cards.nth(0).locator(".card-note")).to_have_text(HIDDEN)

    # After the reveal everything shows, chosen or not.
    page.get_by_role("button", name="Reveal models").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Reveal").click()
    expect(page.locator(".reveal-table")).to_be_visible()
    expect(last_turn(page).locator(".card").nth(0).locator(".metrics")).to_be_visible()
    expect(last_turn(page).locator(".card").nth(0).locator(".card-note")).to_have_text(COLD)
    expect(page.get_by_label("Show speed")).to_be_hidden()


def test_a_load_in_the_round_keeps_the_crown_away_after_the_loading_answer_is_regenerated(
    arena: RunningArena, page: Page
) -> None:
    """The answer that loaded a model is regenerated (a round of its own): the two still shown
    were measured beside that load, so they are still not compared."""
    open_arena(page, arena.url)
    result = page.evaluate(
        """async () => {
            const { createCard } = await import("/static/js/arena/cards.js");
            const { updateCrown } = await import("/static/js/arena/transcript.js");
            const handlers = { stop() {}, regenerate() {}, copy() {}, continueWith: null, vote: null };
            const cards = new Map();
            for (const [key, rate, round] of [["a", 40, "0"], ["loader", 60, "1"], ["c", 20, "0"]]) {
                const card = createCard({ turnId: 1, key, title: key, params: "", handlers });
                card.finish({ status: "ok", metrics: { prompt_tokens: 9, tokens: 50, ttft_s: 0.1, duration_s: 1,
                    tokens_per_sec: rate, cached_prompt_tokens: 0, prompt_s: 0.1, finish_reason: "stop",
                    wait_s: 0, load_s: null, engine_timed: false, contended: false } });
                card.round = round;
                cards.set(key, card);
            }
            const notes = () => [...cards.values()].map((card) => [card.key, card.node.classList.contains("fastest"),
                card.node.querySelector(".card-note").textContent]);
            updateCrown(cards);
            const without = notes();
            updateCrown(cards, { loadInRound: true });
            return [without, notes()];
        }"""
    )
    without, remembered = result
    assert [fastest for _, fastest, _ in without] == [True, False, False], "no load known: a beats c"
    assert remembered == [
        ["a", False, "cold prompt cache · a model was loading beside it — speed not compared"],
        ["loader", False, "cold prompt cache · regenerated alone — speed not compared"],
        ["c", False, "cold prompt cache · a model was loading beside it — speed not compared"],
    ]
