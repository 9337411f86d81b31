"""A real headless Chromium (Debian's package) driven by Playwright, against a real arena.

Each test gets a fresh browser context at 1280x900 with downloads accepted. A test fails when
the page throws an uncaught error, the browser reports a Content-Security-Policy violation, the
page opens a dialog or fetches from another host: the page must run entirely from its own
scripts and styles, with nothing inline. The steps tests share are in tests/support/browser.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, PageProblems, watch

expect.set_options(timeout=15_000)


# Per module, not per session: a module that starts its own Playwright must not find ours running.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (never `playwright install`)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"])
    yield ctx
    ctx.close()


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def page(context: BrowserContext, problems: PageProblems) -> Iterator[Page]:
    new_page = context.new_page()
    watch(new_page, problems)
    yield new_page
    assert not problems.errors, f"uncaught errors in the page: {problems.errors}"
    assert not problems.csp_violations, f"Content-Security-Policy violations: {problems.csp_violations}"
    assert not problems.dialogs, f"the page opened a JavaScript dialog: {problems.dialogs}"
    assert not problems.foreign_requests, f"the page fetched from elsewhere: {problems.foreign_requests}"
