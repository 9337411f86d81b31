"""Toasts: top right, clear of the composer's Send and Attach at any width, heard by screen readers,
dismissable, and gone on their own (errors after 15 s, the rest after 6 s), but never while the
pointer is on one or focus is in it. The page's clock is Playwright's, so no test waits 15 s."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.support.browser import open_arena
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory, module_double
from tests.support.screens import DESKTOP, PHONE
from tests.support.server import RunningArena, ndjson_lines

pytestmark = pytest.mark.browser

NOTHING_TO_EXPORT = "Nothing to export yet"
LLAMA = "ollama:llama3.2:1b"
double = module_double  # one double for the whole module


@pytest.fixture(scope="module")
def arena(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(ollama_hosts=[double.url], embedded_enabled=False)


def error_toast(page: Page) -> None:
    """A real error toast: Ctrl+E with nothing to export."""
    page.locator("#prompt-input").focus()
    page.keyboard.press("Control+e")


def overlaps(a: Locator, b: Locator) -> bool:
    first, second = a.bounding_box(), b.bounding_box()
    assert first and second
    return not (
        first["x"] + first["width"] <= second["x"]
        or second["x"] + second["width"] <= first["x"]
        or first["y"] + first["height"] <= second["y"]
        or second["y"] + second["height"] <= first["y"]
    )


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["390", "1440"])
def test_stacked_toasts_never_cover_send_or_attach(size: dict[str, int], arena: RunningArena, page: Page) -> None:
    page.set_viewport_size(size)
    open_arena(page, arena.url)
    for _ in range(6):
        error_toast(page)
    toasts = page.locator("#toasts .toast")
    expect(toasts).to_have_count(4)  # the oldest leave first: the stack stays short
    header = page.locator(".app-header").bounding_box()
    assert header
    for index in range(4):
        toast = toasts.nth(index)
        expect(toast).to_be_in_viewport()
        box = toast.bounding_box()
        assert box and box["y"] >= header["y"] + header["height"]  # under the header, not over its menu
        for control in ("#send-button", "#attach-button", "#prompt-input"):
            assert not overlaps(toast, page.locator(control)), f"toast {index} covers {control}"
    # The composer's controls still take the click.
    page.locator("#attach-button").click(trial=True)
    page.locator("#send-button").click(trial=True)


def test_screen_readers_hear_toasts_and_any_toast_can_be_dismissed(arena: RunningArena, page: Page) -> None:
    open_arena(page, arena.url)
    region = page.locator("#toasts")
    expect(region).to_have_attribute("aria-live", "polite")  # there before any message, as live regions must be
    error_toast(page)
    toast = region.get_by_role("alert")
    expect(toast).to_contain_text(NOTHING_TO_EXPORT)
    toast.get_by_role("button", name="Dismiss").click()
    expect(region.locator(".toast")).to_have_count(0)

    error_toast(page)
    region.get_by_role("button", name="Dismiss").focus()
    page.keyboard.press("Escape")
    expect(region.locator(".toast")).to_have_count(0)


def test_an_error_toast_leaves_on_its_own_but_not_while_held(arena: RunningArena, page: Page) -> None:
    page.clock.install()
    open_arena(page, arena.url)
    toasts = page.locator("#toasts .toast.error")

    error_toast(page)
    page.clock.run_for(14_000)
    expect(toasts).to_have_count(1)  # long enough to read
    page.clock.run_for(1_500)
    expect(toasts).to_have_count(0)  # but not forever

    # Pointer on it: it stays; the pointer gone, it gets its full time again.
    error_toast(page)
    toasts.hover()
    page.clock.run_for(60_000)
    expect(toasts).to_have_count(1)
    page.mouse.move(5, 400)
    page.clock.run_for(14_000)
    expect(toasts).to_have_count(1)
    page.clock.run_for(1_500)
    expect(toasts).to_have_count(0)

    # Focus in it (a keyboard user reaching Dismiss): it stays.
    error_toast(page)
    toasts.get_by_role("button", name="Dismiss").focus()
    page.clock.run_for(60_000)
    expect(toasts).to_have_count(1)
    page.locator("#prompt-input").focus()
    page.clock.run_for(15_500)
    expect(toasts).to_have_count(0)


def test_other_toasts_leave_sooner(arena: RunningArena, page: Page) -> None:
    with arena.client() as client:  # an export to import: a success toast
        with client.stream(
            "POST", "/api/stream_chat?format=arena", json={"message": "Hi", "model_instances": [{"model": LLAMA}]}
        ) as response:
            conversation_id = list(ndjson_lines(response))[0]["conversation_id"]
        export = client.get(f"/api/conversations/{conversation_id}/export").content
    page.clock.install()
    open_arena(page, arena.url)
    page.locator("#import-input").set_input_files(
        files=[{"name": "chat.json", "mimeType": "application/json", "buffer": export}]
    )
    success = page.locator("#toasts .toast.success")
    expect(success).to_contain_text("Imported")
    page.clock.run_for(6_500)
    expect(success).to_have_count(0)
