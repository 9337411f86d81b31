"""Answers, files and control in the browser, against the Ollama protocol double: exact markdown,
inert HTML, attachments, one failing model among others, Stop and Stop-all."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import add_instance, last_turn, open_arena, send, wait_until_answered
from tests.support.doubles.ollama import DEFAULT_REPLY, OllamaDouble
from tests.support.fixtures import ArenaFactory, module_double
from tests.support.server import RunningArena

pytestmark = pytest.mark.browser

LLAMA = "ollama:llama3.2:1b"
QWEN = "ollama:qwen2.5:0.5b"
MARKDOWN_WITH_HTML = [
    "# Sea colours\n\n",
    "```python\n",
    "def colour():\n",
    "    return 'teal'\n",
    "```\n\n",
    '<img src=x onerror="window.__xss=1">\n\n',
    "<script>window.__xss=2</script>\n\n",
    '[tap](javascript:window.__xss=3) and <a href="javascript:window.__xss=4">tap</a>\n',
]


# One double for the whole module: its arena and its tests see the same one.
double = module_double


@pytest.fixture(scope="module")
def arena(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(ollama_hosts=[double.url], embedded_enabled=False)


@pytest.fixture(autouse=True)
def reset_double(double: OllamaDouble) -> Iterator[None]:
    installed = dict(double.models)
    yield
    double.reply = list(DEFAULT_REPLY)
    double.token_delay = 0.0
    double.models = installed


def detail_of(arena: RunningArena, page: Page) -> dict:
    with arena.client() as client:
        return client.get(f"/api/conversations/{page.url.split('#c=', 1)[1]}").json()


def test_markdown_answer_is_highlighted_and_its_html_is_inert(arena: RunningArena, double: OllamaDouble, page: Page) -> None:
    double.reply = MARKDOWN_WITH_HTML
    open_arena(page, arena.url)
    add_instance(page, LLAMA)
    send(page, "Show me some code.")
    wait_until_answered(page, cards=1, turns=1)

    answer = last_turn(page).locator(".card .answer")
    expect(answer.locator("h1")).to_have_text("Sea colours")
    expect(answer.locator(".highlight pre")).to_have_count(1)
    expect(answer.locator(".highlight .k").first).to_have_text("def")
    expect(answer.locator(".highlight .s1")).to_have_text("'teal'")
    # Pygments' spans take their colours from our stylesheet: a keyword is not plain text colour.
    keyword_colour = answer.locator(".highlight .k").first.evaluate("e => getComputedStyle(e).color")
    assert keyword_colour != answer.evaluate("e => getComputedStyle(e).color")
    # The HTML in the answer is shown as text and never runs.
    expect(answer).to_contain_text('<img src=x onerror="window.__xss=1">')
    expect(answer).to_contain_text("<script>window.__xss=2</script>")
    expect(answer.locator("img, script, [onerror]")).to_have_count(0)
    expect(answer.locator("a[href^='javascript']")).to_have_count(0)
    assert page.evaluate("window.__xss") is None
    # The card's copy keeps the answer exactly as the model wrote it.
    assert detail_of(arena, page)["turns"][0]["responses"][0]["text"] == "".join(MARKDOWN_WITH_HTML)


def test_a_text_file_is_attached_and_a_binary_file_is_refused(
    arena: RunningArena, double: OllamaDouble, page: Page
) -> None:
    open_arena(page, arena.url)
    add_instance(page, LLAMA)
    notes = "Remember: the sea is teal near the shore.\n"
    page.locator("#attach-input").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": notes.encode()}]
    )
    expect(page.locator("#attachment-list .chip-label")).to_have_text([f"notes.txt ({len(notes.encode())} B)"])

    picture = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    page.locator("#attach-input").set_input_files(
        files=[{"name": "photo.txt", "mimeType": "text/plain", "buffer": picture}]
    )
    with arena.client() as client:
        refusal = client.post("/api/attachments", files={"file": ("photo.txt", picture, "text/plain")})
    assert refusal.status_code == 415
    expect(page.locator("#composer-error")).to_have_text(f"photo.txt: {refusal.json()['error']}")
    expect(page.locator("#attachment-list li")).to_have_count(1)

    page.locator("#system-details summary").click()
    page.get_by_label("System prompt").fill("Answer in one word.")
    send(page, "What colour is the sea near the shore?")
    wait_until_answered(page, cards=1, turns=1)
    messages = double.bodies("/api/chat")[-1]["messages"]
    assert messages[0] == {"role": "system", "content": "Answer in one word."}
    expect(last_turn(page).locator(".turn-system")).to_have_text("System: Answer in one word.")
    sent = messages[-1]["content"]
    assert "What colour is the sea near the shore?" in sent
    assert "notes.txt" in sent and notes.strip() in sent
    expect(last_turn(page).locator(".turn-attachments li")).to_have_text([f"notes.txt ({len(notes.encode())} B)"])
    expect(page.locator("#attachment-list li")).to_have_count(0)
    assert detail_of(arena, page)["turns"][0]["attachments"] == [{"filename": "notes.txt", "size": len(notes.encode())}]


def test_one_failing_model_shows_its_error_while_the_other_answers(
    arena: RunningArena, double: OllamaDouble, page: Page
) -> None:
    open_arena(page, arena.url)
    add_instance(page, LLAMA)
    add_instance(page, QWEN)
    send(page, "Hello?")
    wait_until_answered(page, cards=2, turns=1)
    double.models.pop("qwen2.5:0.5b")  # removed from Ollama in the middle of the conversation
    send(page, "Hello again?")
    wait_until_answered(page, cards=2, turns=2)

    responses = {r["key"]: r for r in detail_of(arena, page)["turns"][1]["responses"]}
    failed = last_turn(page).locator(".card[data-status=error]")
    expect(failed).to_have_count(1)
    failed_response = responses[failed.get_attribute("data-key")]
    expect(failed.locator(".card-title")).to_contain_text("qwen2.5:0.5b")
    expect(failed.locator(".card-error")).to_contain_text(failed_response["error"])
    expect(failed.locator(".card-error")).to_contain_text("Pull the model in the Model manager")
    expect(failed.get_by_role("button", name="Regenerate")).to_be_visible()
    working = last_turn(page).locator(".card[data-status=ok]")
    expect(working.locator(".answer")).to_have_text("".join(DEFAULT_REPLY))
    expect(working.locator("[data-metric=tokens] dd")).to_have_text(str(len(DEFAULT_REPLY)))


def test_stop_one_card_then_stop_all_with_escape(arena: RunningArena, double: OllamaDouble, page: Page) -> None:
    double.reply = [f"word{i} " for i in range(400)]
    double.token_delay = 0.03
    open_arena(page, arena.url)
    add_instance(page, LLAMA)
    add_instance(page, QWEN)
    send(page, "Talk for a long time.")
    cards = page.locator(".card")
    expect(cards.and_(page.locator("[data-status=streaming]"))).to_have_count(2)
    expect(page.locator("#stop-all")).to_be_visible()

    first, second = cards.nth(0), cards.nth(1)
    first.get_by_role("button", name="Stop").click()
    expect(first).to_have_attribute("data-status", "stopped")
    expect(first.locator(".card-error")).to_contain_text("partial answer is kept")
    expect(second).to_have_attribute("data-status", "streaming")

    page.keyboard.press("Escape")  # Stop all
    expect(second).to_have_attribute("data-status", "stopped")
    expect(page.locator("#stop-all")).to_be_hidden()

    deadline = time.monotonic() + 15
    while {r["status"] for r in detail_of(arena, page)["turns"][0]["responses"]} != {"stopped"}:
        assert time.monotonic() < deadline, "the server recorded both answers as stopped"
        time.sleep(0.2)
    stored = {r["key"]: r for r in detail_of(arena, page)["turns"][0]["responses"]}
    for card in (first, second):
        text = stored[card.get_attribute("data-key")]["text"]
        assert 0 < len(text) < len("".join(double.reply)), "a partial answer was kept"
        expect(card.locator(".answer")).to_contain_text(text.split()[0])

