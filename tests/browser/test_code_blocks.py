"""Code blocks in answers: a header with the fence's language and a Copy button that puts the code,
exactly, on the clipboard (or, where the Clipboard API is refused, copies the selection instead)
and says so; the same after the conversation is opened again."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import add_instance, last_turn, open_arena, send, wait_until_answered
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory, module_double
from tests.support.server import RunningArena

pytestmark = pytest.mark.browser

LLAMA = "ollama:llama3.2:1b"
PYTHON = "def greet(name):\n    return f'Hello, {name}!'  # <b>not markup</b>"
SHELL = "ls -la | grep '.py'"
ANSWER = f"Two blocks:\n\n```python\n{PYTHON}\n```\n\nand one without a language:\n\n```\n{SHELL}\n```\n"
double = module_double  # one double for the whole module

# Where the Clipboard API is refused (an http:// address that is not localhost, a denied permission).
NO_CLIPBOARD_API = """
window.realWriteText = navigator.clipboard.writeText.bind(navigator.clipboard);
Object.defineProperty(navigator.clipboard, "writeText", { value: () => Promise.reject(new DOMException("denied", "NotAllowedError")) });
"""


@pytest.fixture(scope="module")
def arena(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    double.reply = [ANSWER[i : i + 7] for i in range(0, len(ANSWER), 7)]
    return module_arena_factory(ollama_hosts=[double.url], embedded_enabled=False)


def answered(page: Page, url: str) -> None:
    open_arena(page, url)
    add_instance(page, LLAMA)
    send(page, "Show me code.")
    wait_until_answered(page, cards=1, turns=1)


def test_each_code_block_shows_its_language_and_copies_its_code(arena: RunningArena, page: Page) -> None:
    answered(page, arena.url)
    blocks = last_turn(page).locator(".answer .highlight")
    expect(blocks).to_have_count(2)
    expect(blocks.nth(0).locator(".code-lang")).to_have_text("python")
    expect(blocks.nth(1).locator(".code-lang")).to_have_text("")  # the fence named none: no guess
    expect(blocks.nth(0).locator(".code-head")).to_be_visible()

    copy = blocks.nth(0).get_by_role("button", name="Copy the python code")
    copy.click()
    expect(copy).to_have_text("Copied ✓")
    expect(blocks.nth(0).get_by_role("status")).to_have_text("Copied")  # said to screen readers too
    assert page.evaluate("navigator.clipboard.readText()") == PYTHON
    expect(copy).to_have_text("Copy")  # back after a moment, ready for another copy

    blocks.nth(1).get_by_role("button", name="Copy the code").click()
    assert page.evaluate("navigator.clipboard.readText()") == SHELL

    # Reopened from the database, the blocks get their header again.
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(last_turn(page).locator(".answer .highlight .code-head")).to_have_count(2)
    expect(last_turn(page).locator(".code-lang").first).to_have_text("python")


def test_without_the_clipboard_api_the_copy_falls_back_to_the_selection(arena: RunningArena, page: Page) -> None:
    page.add_init_script(NO_CLIPBOARD_API)
    answered(page, arena.url)
    page.evaluate("window.realWriteText('stale')")  # whatever a previous test copied is gone
    block = last_turn(page).locator(".answer .highlight").first
    copy = block.get_by_role("button", name="Copy the python code")
    copy.click()
    expect(copy).to_have_text("Copied ✓")
    assert page.evaluate("navigator.clipboard.readText()").rstrip("\n") == PYTHON
