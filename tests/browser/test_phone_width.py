"""The header at every width: below 1024 px its pages and controls fold into a Menu button, and at
no width does the page scroll sideways, with the widest header there is (an admin on the arena
page: Model manager, the account, Log out, Theme and five pages)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.accounts import PASSWORD
from tests.support.browser import add_instance, send, wait_until_answered
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory, module_double
from tests.support.screens import overflow, save_screen
from tests.support.server import RunningArena

pytestmark = pytest.mark.browser

PAGES = ("Arena", "Leaderboard", "Judges", "Benchmarks", "Audit log")


double = module_double  # one double for the whole module


@pytest.fixture(scope="module")
def arena(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(accounts=True, ollama_hosts=[double.url], embedded_enabled=False)


def open_as_admin(page: Page, url: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 844})
    page.goto(f"{url}/login?next=/")
    page.fill("#login-username", "ada")
    page.fill("#login-password", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


@pytest.mark.parametrize("width", [1024, 1280, 1440])
def test_a_wide_window_shows_the_pages_and_controls_in_the_header(width: int, arena: RunningArena, page: Page) -> None:
    open_as_admin(page, arena.url, width)
    expect(page.locator("#menu-button")).to_be_hidden()
    nav = page.get_by_role("navigation", name="Pages")
    for name in PAGES:
        expect(nav.get_by_role("link", name=name)).to_be_in_viewport()
    for control in ("#manager-button", "#account-badge", "#logout-button", "#theme-select"):
        expect(page.locator(control)).to_be_in_viewport()
    header = page.locator(".app-header").bounding_box()
    assert header and header["height"] <= 53  # one row, not wrapped
    assert overflow(page) == []


@pytest.mark.parametrize("width", [390, 768, 1023])
def test_a_narrow_window_folds_the_header_into_a_menu(width: int, arena: RunningArena, page: Page) -> None:
    open_as_admin(page, arena.url, width)
    menu = page.get_by_role("button", name="Menu")
    nav = page.get_by_role("navigation", name="Pages")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    assert overflow(page) == []

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    for name in PAGES:
        link = nav.get_by_role("link", name=name)
        expect(link).to_be_in_viewport()
        box = link.bounding_box()
        assert box and box["height"] >= 40  # big enough to hit with a thumb
    for control in ("#manager-button", "#account-badge", "#logout-button", "#theme-select"):
        expect(page.locator(control)).to_be_in_viewport()
    expect(nav.get_by_role("link", name="Arena")).to_have_attribute("aria-current", "page")
    assert overflow(page) == []
    save_screen(page, f"menu-open-{width}")

    # Esc closes it and gives focus back to the button; a click elsewhere closes it too.
    nav.get_by_role("link", name="Leaderboard").focus()
    page.keyboard.press("Escape")
    expect(nav).to_be_hidden()
    expect(menu).to_be_focused()
    menu.click()
    expect(nav).to_be_visible()
    page.mouse.click(width // 2, 600)
    expect(nav).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")

    # A control in the menu works and closes it; a link goes to its page.
    menu.click()
    page.select_option("#theme-select", "dark")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.click("#manager-button")
    expect(page.locator("#manager-dialog")).to_be_visible()
    expect(nav).to_be_hidden()
    page.keyboard.press("Escape")
    menu.click()
    nav.get_by_role("link", name="Benchmarks").click()
    expect(page).to_have_url(f"{arena.url}/bench")
    assert overflow(page) == []


def test_the_menu_is_closed_again_when_the_window_grows(arena: RunningArena, page: Page) -> None:
    open_as_admin(page, arena.url, 390)
    page.get_by_role("button", name="Menu").click()
    page.set_viewport_size({"width": 1280, "height": 844})
    expect(page.locator("#menu-button")).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_role("navigation", name="Pages")).to_be_in_viewport()
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.get_by_role("navigation", name="Pages")).to_be_hidden()


def test_esc_that_closes_the_menu_does_not_stop_the_answers(
    arena: RunningArena, double: OllamaDouble, page: Page
) -> None:
    double.token_delay = 0.1
    try:
        open_as_admin(page, arena.url, 390)
        add_instance(page, "ollama:llama3.2:1b")
        double.reply = [f" word{n}" for n in range(60)]
        send(page, "Talk for a while.")
        card = page.locator(".turn .card").first
        expect(card).to_have_attribute("data-status", "streaming")
        page.get_by_role("button", name="Menu").click()
        page.keyboard.press("Escape")
        expect(page.get_by_role("navigation", name="Pages")).to_be_hidden()
        page.wait_for_timeout(500)
        expect(card).to_have_attribute("data-status", "streaming")  # Esc went to the menu only
        page.keyboard.press("Escape")  # the next one stops the answers, as everywhere else
        expect(card).to_have_attribute("data-status", "stopped")
    finally:
        double.token_delay = 0.0


def test_a_phone_shows_no_keyboard_hints(arena: RunningArena, page: Page) -> None:
    open_as_admin(page, arena.url, 390)
    add_instance(page, "ollama:llama3.2:1b")
    send(page, "Hello")
    expect(page.locator("#export-menu")).to_be_visible()  # a conversation: Export (Ctrl E) is offered
    wait_until_answered(page, cards=1, turns=1)
    # With answers on screen the picker folds away; open it as a person would, to see its label.
    if not page.locator("#picker-details").evaluate("details => details.open"):
        page.locator("#picker-details > summary").click()
    expect(page.locator("label[for=model-select]")).to_be_visible()
    for hint in ("#send-button kbd", "#export-menu summary kbd", "label[for=model-select] kbd"):
        expect(page.locator(hint)).to_be_hidden()
    page.set_viewport_size({"width": 1280, "height": 844})
    expect(page.locator("#export-menu summary kbd")).to_be_visible()
