"""The Judge panel in the browser, with the Ollama double as contestants and as judge: a verdict
with its winner, an inconsistent one shown as a tie, a grade, a 502 message, and the cloud opt-in
whose privacy notice shows before anything could be sent. Every run stays on screen (newest
first) and comes back when the conversation is reopened; a run shows its progress under the turn
while the page stays usable, and Cancel stops the judge on the server. SmolLM2 judges for real
in the last test."""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import Locator, Page, Request, expect

from tests.support.browser import add_instance, last_turn, open_arena, send, wait_until_answered
from tests.support.doubles.ollama import DEFAULT_REPLY, OllamaDouble
from tests.support.fixtures import ArenaFactory, module_double
from tests.support.models import SMOL
from tests.support.server import RunningArena

pytestmark = pytest.mark.browser

LLAMA = "ollama:llama3.2:1b"
QWEN = "ollama:qwen2.5:0.5b"


class TakeTurns(list):
    """A scripted reply that changes with each chat: the judge asks once per order (A/B, then B/A)."""

    def __init__(self, *replies: list[str]) -> None:
        super().__init__(replies[0])
        self.replies = replies
        self.calls = 0

    def __iter__(self):
        reply = self.replies[self.calls % len(self.replies)]
        self.calls += 1
        return iter(reply)


# One double for the whole module: its arena and its tests see the same one.
double = module_double


@pytest.fixture(scope="module")
def arena(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    # The two public APIs as cloud judges (none is on by default); nothing is ever sent to them here.
    return module_arena_factory(ollama_hosts=[double.url], embedded_enabled=False, cloud_judges="openai,anthropic")


def judge_posts(page: Page) -> list[dict]:
    posted: list[dict] = []

    def on_request(request: Request) -> None:
        if request.method == "POST" and request.url.endswith(("/api/judge", "/api/judge/stream")):
            posted.append(json.loads(request.post_data or "{}"))

    page.on("request", on_request)
    return posted


def test_judge_panel_shows_verdicts_errors_and_the_cloud_notice(arena: RunningArena, double: OllamaDouble, page: Page) -> None:
    posted = judge_posts(page)
    double.reply = list(DEFAULT_REPLY)
    double.token_delay = 0.02
    open_arena(page, arena.url)
    add_instance(page, LLAMA)
    add_instance(page, QWEN)
    send(page, "Why is the sky blue?")
    wait_until_answered(page, cards=2, turns=1)
    double.token_delay = 0.0
    turn = last_turn(page)
    first_key = turn.locator(".card").first.get_attribute("data-key")
    dialog = page.locator("#judge-dialog")
    results = turn.locator(".judge-results")
    expect(results).to_be_hidden()

    # Pairwise, the same winner in both orders: [A] first, then [B] once the answers are swapped.
    double.reply = TakeTurns(
        ['{"verdict": "A", ', '"explanation": "<b>A</b> is right"}'],
        ['{"verdict": "B", ', '"explanation": "the other one is right"}'],
    )
    turn.get_by_role("button", name="Judge").click()
    expect(dialog).to_be_visible()
    page.select_option("#judge-model", QWEN)
    expect(page.locator("#judge-mode")).to_have_value("pairwise")
    expect(page.locator("#judge-cloud-fields")).to_be_hidden()
    page.locator("#judge-send").click()
    expect(dialog).to_be_hidden()
    runs = results.locator(".judge-run")
    expect(runs).to_have_count(1)
    verdict = runs.first.locator(".judgment")
    expect(verdict).to_have_count(1)
    expect(verdict).to_have_attribute("data-winner", first_key)
    expect(verdict).to_have_attribute("data-consistent", "true")
    expect(verdict.locator(".judgment-verdict")).to_contain_text("wins")
    expect(verdict).to_contain_text("Consistent in both orders")
    expect(verdict.locator(".judgment-explanation").first).to_have_text("<b>A</b> is right")  # text, not HTML
    expect(verdict.locator("b")).to_have_count(0)
    expect(runs.first.locator("h4")).to_contain_text(f"Pairwise verdict by {QWEN}")
    expect(runs.first.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))
    assert posted[-1]["conversation_id"] == page.url.split("#c=", 1)[1]
    assert {key: posted[-1][key] for key in ("mode", "judge_model")} == {"mode": "pairwise", "judge_model": QWEN}
    assert posted[-1]["options"] == {"num_predict": 512}
    assert "cloud" not in posted[-1]

    # "A" in both orders: the verdict flipped with the order, so it is a tie, and the page says so.
    # The first run stays, below the new one.
    double.reply = ['{"winner": "A", "explanation": "A is right"}']
    turn.get_by_role("button", name="Judge").click()
    page.locator("#judge-send").click()
    expect(dialog).to_be_hidden()
    expect(runs).to_have_count(2)
    newest = runs.first.locator(".judgment")
    expect(newest).to_have_attribute("data-consistent", "false")
    expect(newest.locator(".judgment-verdict")).to_contain_text("tie")
    expect(newest.locator(".judgment-note")).to_contain_text("Inconsistent")
    expect(newest.locator(".judgment-note")).to_contain_text("counts as a tie")
    # Each order is labelled, so the flip (position bias) reads off the page.
    orders = newest.locator(".judgment-order")
    expect(orders).to_have_count(2)
    texts = orders.all_inner_texts()
    assert texts[0].startswith("Order 1, ") and texts[1].startswith("Order 2, "), texts
    picked = [text.split("the judge said A (", 1)[1].split(")", 1)[0] for text in texts]
    assert picked[0] != picked[1], "A was a different answer in each order"
    expect(runs.last.locator(".judgment")).to_have_attribute("data-consistent", "true")

    # Grading against a reference: one score per answer.
    double.reply = ['{"score": 8, "explanation": "close to the reference"}']
    turn.get_by_role("button", name="Judge").click()
    page.select_option("#judge-mode", "reference")
    expect(page.locator("#judge-reference")).to_be_visible()
    page.fill("#judge-reference", "Rayleigh scattering.")
    page.locator("#judge-send").click()
    expect(dialog).to_be_hidden()
    expect(runs).to_have_count(3)
    expect(runs.first.locator(".judgment-verdict")).to_have_text([re.compile(r": 8(\.0)?/10$")] * 2)
    expect(runs.first.locator("h4")).to_contain_text("Grades against the reference by")
    assert posted[-1]["reference"] == "Rayleigh scattering." and posted[-1]["mode"] == "reference"

    # Garbage from the judge: the 502's message shows under the turn; nothing is added.
    double.reply = ["I", " cannot", " decide", "."]
    turn.get_by_role("button", name="Judge").click()
    page.select_option("#judge-mode", "pairwise")
    page.locator("#judge-send").click()
    expect(dialog).to_be_hidden()
    expect(turn.locator(".judge-run-error")).to_contain_text("stronger judge model")
    expect(runs).to_have_count(3)

    # Reopened (a reload), the conversation shows every stored run again, newest first.
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    turn = last_turn(page)
    runs = turn.locator(".judge-results .judge-run")
    expect(runs).to_have_count(3)
    expect(runs.locator("h4")).to_have_text(
        [f"Grades against the reference by {QWEN}", f"Pairwise verdict by {QWEN}", f"Pairwise verdict by {QWEN}"]
    )
    expect(runs.nth(1).locator(".judgment")).to_have_attribute("data-consistent", "false")
    expect(runs.nth(2).locator(".judgment")).to_have_attribute("data-winner", first_key)
    expect(turn.locator(".judge-run-error")).to_be_hidden()
    turn.get_by_role("button", name="Judge").click()
    expect(dialog).to_be_visible()

    # A cloud judge: the privacy notice shows as soon as the box is ticked, and nothing is sent.
    sent = len(posted)
    page.check("#judge-cloud")
    expect(page.locator("#judge-cloud-fields")).to_be_visible()
    expect(page.locator("#judge-privacy")).to_contain_text("sends the question")
    expect(page.locator("#judge-privacy")).to_contain_text("api.openai.com")
    page.select_option("#judge-provider", "anthropic")
    expect(page.locator("#judge-privacy")).to_contain_text("api.anthropic.com")
    expect(page.locator("#judge-model")).to_be_disabled()
    page.fill("#judge-api-key", "sk-test-not-stored")
    page.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    assert len(posted) == sent
    assert "sk-test-not-stored" not in json.dumps(page.evaluate("({...localStorage, ...sessionStorage})"))
    assert page.locator("#judge-api-key").input_value() == ""


@pytest.fixture(scope="module")
def arena_without_cloud(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(ollama_hosts=[double.url], embedded_enabled=False, cloud_judges="none")


def test_with_no_cloud_judge_configured_the_panel_says_so(
    arena_without_cloud: RunningArena, double: OllamaDouble, page: Page
) -> None:
    double.reply = list(DEFAULT_REPLY)
    double.token_delay = 0.0
    open_arena(page, arena_without_cloud.url)
    add_instance(page, LLAMA)
    send(page, "Why is the sky blue?")
    wait_until_answered(page, cards=1, turns=1)
    last_turn(page).get_by_role("button", name="Judge").click()

    page.check("#judge-cloud")
    expect(page.locator("#judge-privacy")).to_have_text("No cloud judge is configured (ARENA_CLOUD_JUDGES).")
    expect(page.locator("#judge-provider")).to_be_disabled()
    expect(page.locator("#judge-send")).to_be_disabled()


def judged_turn(page: Page, url: str) -> Locator:
    """A turn answered by LLAMA and QWEN (from the double), ready to judge."""
    open_arena(page, url)
    add_instance(page, LLAMA)
    add_instance(page, QWEN)
    send(page, "Why is the sky blue?")
    wait_until_answered(page, cards=2, turns=1)
    turn = page.locator(".turn").first  # stays the first turn when more follow
    # Pairwise judging needs both answers: say which one failed, and how, if one did.
    cards = turn.locator(".card")
    assert cards.evaluate_all("cards => cards.every(card => card.dataset.status === 'ok')"), cards.all_inner_texts()
    return turn


def start_judging(page: Page, turn: Locator, judge_model: str, tokens: int = 512) -> None:
    turn.get_by_role("button", name="Judge").click()
    page.select_option("#judge-model", judge_model)
    page.select_option("#judge-mode", "pairwise")
    page.fill("#judge-tokens", str(tokens))
    page.locator("#judge-send").click()
    expect(page.locator("#judge-dialog")).to_be_hidden()  # at once: nothing blocks the page


def tokens_shown(live: Locator) -> int:
    return int(re.search(r"· (\d+) tokens?", live.locator(".judge-progress-text").inner_text()).group(1))


def test_a_run_shows_its_progress_the_page_stays_usable_and_cancel_stops_the_judge(
    arena: RunningArena, double: OllamaDouble, page: Page
) -> None:
    double.reply, double.token_delay = list(DEFAULT_REPLY), 0.0
    turn = judged_turn(page, arena.url)
    conversation_id = page.url.split("#c=", 1)[1]
    # The judge writes slowly (400 tokens, ~20 s per order); the chat after it gets quick answers.
    slow = ['{"verdict": "A", "explanation": "', *["word "] * 400, '"}']
    double.reply = TakeTurns(slow, ["Quick", " answer."], ["Quick", " answer."])
    double.token_delay = 0.05
    left_before = double.disconnects

    start_judging(page, turn, QWEN)
    live = turn.locator(".judge-live")
    expect(live).to_be_visible()
    expect(live.locator(".judge-progress-text")).to_have_text(
        re.compile(rf"^{re.escape(QWEN)}: order 1 of 2 \(llama3\.2:1b shown first\) · ([3-9]|\d\d+) tokens$")
    )
    expect(turn.get_by_role("button", name="Judge")).to_be_hidden()  # one run per turn at a time

    # Meanwhile the page is usable: no modal is open, and the next message is sent and answered.
    expect(page.locator("dialog[open]")).to_have_count(0)
    before = tokens_shown(live)
    send(page, "And why are sunsets red?")
    wait_until_answered(page, cards=2, turns=2)
    expect(last_turn(page).locator(".card").first).to_contain_text("Quick answer.")
    expect(live).to_be_visible()
    assert tokens_shown(live) > before, "the count went on while the page was used"

    # Cancel: the judge stops on the server (the arena drops its request to the judge) and nothing is stored.
    live.get_by_role("button", name="Cancel").click()
    expect(live).to_be_hidden()
    expect(turn.locator(".judge-run-error")).to_have_text("Cancelled: the judge was stopped and nothing was stored.")
    expect(turn.locator(".judge-run")).to_have_count(0)
    expect(turn.get_by_role("button", name="Judge")).to_be_visible()
    deadline = time.monotonic() + 10
    while (double.disconnects == left_before or double.streaming) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert double.disconnects > left_before and double.streaming == 0, "the judge's generation went on"
    double.token_delay = 0.0
    with arena.client() as client:
        stored = client.get("/api/judge", params={"conversation_id": conversation_id}).json()["judgments"]
    assert stored == []


@pytest.fixture(scope="module")
def smol_arena(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(ollama_hosts=[double.url])  # the embedded SmolLM2 too


@pytest.mark.slow
def test_smollm2_judges_with_progress_under_the_turn(smol_arena: RunningArena, double: OllamaDouble, page: Page) -> None:
    double.reply, double.token_delay = list(DEFAULT_REPLY), 0.0
    turn = judged_turn(page, smol_arena.url)

    start_judging(page, turn, SMOL, tokens=64)  # enough for its verdict (the API test's limit too)

    # Progress from the server, as the real model writes: which order, and its tokens so far.
    live = turn.locator(".judge-live")
    expect(live.locator(".judge-progress-text")).to_have_text(
        re.compile(rf"^{re.escape(SMOL)}: order [12] of 2 \((llama3\.2:1b|qwen2\.5:0\.5b) shown first\) · [1-9]\d* tokens?$"),
        timeout=120_000,  # the prompt is read first: slow on a busy machine
    )
    run = turn.locator(".judge-results .judge-run")
    expect(run).to_have_count(1, timeout=240_000)
    expect(live).to_be_hidden()
    expect(run.locator("h4")).to_have_text(f"Pairwise verdict by {SMOL}")
    expect(run.locator(".judgment-verdict")).to_have_text(re.compile(r"^llama3\.2:1b vs qwen2\.5:0\.5b: .*(wins|tie)$"))
