"""A real headless Chromium through nginx over https (HTTP/2 from the browser to nginx): an
evaluator logs in, the browser keeps a Secure session cookie, and one comparison streams to the
end, every change carrying the page's own Origin past the browser guard behind the proxy."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, Request, expect, sync_playwright

from tests.deploy.conftest import MODEL, Deployment
from tests.support.accounts import PASSWORD
from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PageProblems,
    add_instance,
    open_arena,
    send,
    wait_until_answered,
    watch,
)

pytestmark = pytest.mark.timeout(180)


@dataclass
class HttpsPageProblems(PageProblems):
    """PageProblems for a page served from `origin` (the proxy), not from http://127.0.0.1."""

    origin: str = ""

    def on_request(self, request: Request) -> None:
        if not request.url.startswith((f"{self.origin}/", "blob:", "data:")):
            self.foreign_requests.append(request.url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (never `playwright install`)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, team: Deployment) -> Iterator[Page]:
    # The test's certificate is self-signed: Chromium is told to accept it, as a user would once.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, ignore_https_errors=True)
    problems = HttpsPageProblems(origin=team.proxy.https_url)
    new_page = context.new_page()
    watch(new_page, problems)
    yield new_page
    context.close()
    assert not problems.errors, f"uncaught errors in the page: {problems.errors}"
    assert not problems.csp_violations, f"Content-Security-Policy violations: {problems.csp_violations}"
    assert not problems.dialogs, f"the page opened a JavaScript dialog: {problems.dialogs}"
    assert not problems.foreign_requests, f"the page fetched from elsewhere: {problems.foreign_requests}"


def test_an_evaluator_logs_in_and_compares_through_nginx_over_https(team: Deployment, page: Page) -> None:
    site = team.proxy.https_url
    page.goto(f"{site}/")
    expect(page).to_have_url(f"{site}/login?next=/")
    page.fill("#login-username", "eve")
    page.fill("#login-password", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page).to_have_url(f"{site}/")
    expect(page.locator("#account-badge")).to_have_text("eve · evaluator")
    [cookie] = [c for c in page.context.cookies() if c["name"] == "arena_session"]
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie

    open_arena(page, f"{site}/")
    add_instance(page, MODEL, num_predict=8, seed=3)
    send(page, "Why is the sky blue?")
    wait_until_answered(page, cards=1, turns=1)
    card = page.locator(".turn .card").first
    expect(card).to_have_attribute("data-status", "ok")
    expect(card).to_contain_text("Rayleigh")  # the double's reply, streamed to the end
