"""Users mode in a real Chromium: the login page, a chat made with the session cookie (so with the
CSRF header from the page), a viewer refused a change, logout, and the way back after it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.accounts import PASSWORD
from tests.support.browser import add_instance, open_arena, send, wait_until_answered
from tests.support.fixtures import ArenaFactory
from tests.support.models import SMOL
from tests.support.server import RunningArena


@pytest.fixture(scope="module")
def arena(module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(accounts=True)


def log_in(page: Page, username: str, password: str = PASSWORD) -> None:
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click("#login-form button[type=submit]")


def test_an_evaluator_logs_in_chats_and_logs_out(arena: RunningArena, page: Page) -> None:
    page.goto(arena.url + "/leaderboard")
    expect(page).to_have_url(f"{arena.url}/login?next=/leaderboard")

    log_in(page, "eve", "wrong password")
    expect(page.locator("#login-error")).to_have_text("Wrong username or password")

    log_in(page, "eve")
    expect(page).to_have_url(arena.url + "/leaderboard")  # back where the user was headed
    expect(page.locator("#account-badge")).to_have_text("eve · evaluator")
    expect(page.locator("a[href='/audit']")).to_have_count(0)  # not an admin

    open_arena(page, arena.url + "/")
    add_instance(page, SMOL, num_predict=8, seed=3)
    send(page, "Say hello.")
    wait_until_answered(page, cards=1, turns=1)
    expect(page.locator(".turn .card").first).to_have_attribute("data-status", "ok")
    expect(page.locator("#session-list li").first).to_be_visible()

    page.click("#logout-button")
    expect(page).to_have_url(arena.url + "/login")
    page.goto(arena.url + "/")
    expect(page).to_have_url(f"{arena.url}/login?next=/")
    with arena.client() as client:  # the cookie is dead on the server, not just forgotten
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        assert (
            "arena_session" not in cookies
            or client.get("/api/auth/me", cookies={"arena_session": cookies["arena_session"]}).status_code == 401
        )


def test_a_viewer_sees_the_page_but_a_change_is_refused_in_the_page(arena: RunningArena, page: Page) -> None:
    page.goto(arena.url + "/login")
    log_in(page, "vic")
    expect(page.locator("#account-badge")).to_have_text("vic · viewer")
    open_arena(page, arena.url + "/")
    add_instance(page, SMOL, num_predict=8, seed=3)
    send(page, "Say hello.")
    # The server refuses (403); the page says why instead of failing silently.
    expect(page.get_by_text("This needs the evaluator role; you are viewer").first).to_be_visible()


def test_an_admin_sees_the_audit_log_with_the_logins(arena: RunningArena, page: Page) -> None:
    page.goto(arena.url + "/audit")
    expect(page).to_have_url(f"{arena.url}/login?next=/audit")
    log_in(page, "ada", "not the password")
    expect(page.locator("#login-error")).to_be_visible()
    log_in(page, "ada")
    expect(page).to_have_url(arena.url + "/audit")
    expect(page.locator("a[href='/audit']")).to_have_count(1)
    expect(page.get_by_text("login.success").first).to_be_visible()
    expect(page.get_by_text("login.failure").first).to_be_visible()


# Browsers drop tabs and newlines from URLs and read "\" as "/": each of these once led off-site.
OFF_SITE_NEXT = ["/%09/evil.example/", "/%0A/evil.example/", "/%0D/evil.example/", "/%5Cevil.example", "/\\evil.example",
                 "//evil.example", "https:evil.example"]  # fmt: skip


def test_login_never_sends_the_browser_to_another_site(arena: RunningArena, page: Page) -> None:
    for next_path in OFF_SITE_NEXT:
        page.goto(f"{arena.url}/login?next={next_path}")
        log_in(page, "eve")
        expect(page).to_have_url(arena.url + "/")
        page.click("#logout-button")
        expect(page).to_have_url(arena.url + "/login")
