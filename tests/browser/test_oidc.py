"""Single sign-on in a real Chromium against a real OpenID Connect provider (oidc-provider-mock).

The provider's issuer is http://localhost:PORT and the arena is at 127.0.0.1: another site, as a
real provider is, so the cookies' SameSite rules act as they would in a deployment (the login's
own cookie must come back on the provider's redirect; the Strict session cookie must reach the
page the user was headed to).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, Route, expect

from tests.support.accounts import PASSWORD
from tests.support.browser import PageProblems, watch
from tests.support.fixtures import ArenaFactory
from tests.support.oidc_provider import Provider, oidc_provider
from tests.support.server import RunningArena

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

MEMBERS = ["arena-users"]
PROVIDER_CSS = "https://cdn.jsdelivr.net/"  # the provider's own pages style themselves from a CDN


@pytest.fixture(scope="module")
def idp() -> Iterator[Provider]:
    with oidc_provider(host="localhost") as provider:
        yield provider


@pytest.fixture(scope="module")
def arena(idp: Provider, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(
        accounts=True,
        embedded_enabled=False,
        rate_limit_login="off",
        oidc_issuer=idp.issuer,
        oidc_client_id="arena",
        oidc_client_secret="browser-test-secret",
        oidc_name="Example SSO",
        oidc_required_claim="groups=arena-users",
        oidc_role_claim="groups",
        oidc_role_values="admin=arena-admins,evaluator=arena-evaluators",
    )


class ArenaAndProvider(PageProblems):
    """The arena's pages must stay on the arena; the provider's pages are the provider's business."""

    def __init__(self, provider: str) -> None:
        super().__init__()
        self.provider = provider

    def on_request(self, request: Request) -> None:
        if not request.url.startswith((self.provider, PROVIDER_CSS)):
            super().on_request(request)


@pytest.fixture
def problems(idp: Provider) -> PageProblems:
    return ArenaAndProvider(idp.issuer)


@pytest.fixture(autouse=True)
def no_cdn(context: BrowserContext) -> None:
    context.route(PROVIDER_CSS + "**", lambda route: route.abort())


def sign_in_at_provider(page: Page, sub: str) -> None:
    """On the arena's login page: the provider's button, then the provider's own form."""
    page.click("#sso-login")
    page.get_by_placeholder("sub").fill(sub)
    page.get_by_role("button", name="Authorize").click()


def test_login_with_the_role_from_the_claim_role_changes_follow_and_logout_ends_both_sessions(
    arena: RunningArena, idp: Provider, page: Page
) -> None:
    idp.set_user("sub-carol", preferred_username="carol", groups=[*MEMBERS, "arena-evaluators"])
    page.goto(arena.url + "/leaderboard")
    expect(page).to_have_url(f"{arena.url}/login?next=/leaderboard")
    expect(page.locator("#sso-login")).to_have_text("Sign in with Example SSO")
    sign_in_at_provider(page, "sub-carol")
    expect(page).to_have_url(arena.url + "/leaderboard")  # back where the user was headed, logged in
    expect(page.locator("#account-badge")).to_have_text("carol · evaluator")
    expect(page.locator("a[href='/audit']")).to_have_count(0)

    page.wait_for_load_state()  # the header's modules are wired (a click before that does nothing)
    page.click("#logout-button")  # the arena's session ends, then the provider's end-session page
    expect(page).to_have_url(re.compile(re.escape(idp.issuer + "/oauth2/end_session?")))
    page.get_by_role("button", name="End session").click()
    expect(page).to_have_url(re.compile(re.escape(arena.url + "/login") + r"(\?.*)?$"))  # and back
    expect(page.locator("#sso-login")).to_be_visible()
    assert page.request.get(arena.url + "/api/auth/me").status == 401

    idp.set_user("sub-carol", preferred_username="carol", groups=[*MEMBERS, "arena-admins"])  # promoted
    sign_in_at_provider(page, "sub-carol")
    expect(page.locator("#account-badge")).to_have_text("carol · admin")
    expect(page.locator("a[href='/audit']")).to_have_count(1)


def _other_browser(browser: Browser, problems: PageProblems) -> tuple[BrowserContext, Page]:
    context = browser.new_context()
    context.route(PROVIDER_CSS + "**", lambda route: route.abort())
    page = context.new_page()
    watch(page, problems)
    return context, page


def test_a_missing_required_group_is_refused_and_ends_the_users_sessions_and_tokens(
    arena: RunningArena, idp: Provider, page: Page, browser: Browser, problems: PageProblems
) -> None:
    idp.set_user("sub-erin", preferred_username="erin", groups=[*MEMBERS, "arena-evaluators"])
    page.goto(arena.url + "/login")
    sign_in_at_provider(page, "sub-erin")
    expect(page.locator("#account-badge")).to_have_text("erin · evaluator")
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    made = page.request.post(arena.url + "/api/auth/tokens", data={"name": "ci"}, headers={"x-csrf-token": csrf})
    assert made.status == 201
    token = made.json()["token"]

    idp.set_user("sub-erin", preferred_username="erin", groups=["contractors"])  # removed from the group
    context, other = _other_browser(browser, problems)
    try:
        other.goto(arena.url + "/login")
        sign_in_at_provider(other, "sub-erin")
        expect(other.locator("#sso-error")).to_have_text(
            "Your Example SSO account is not in the group this arena requires (ARENA_OIDC_REQUIRED_CLAIM); "
            "ask whoever manages Example SSO to add you"
        )
        expect(other).to_have_url(f"{arena.url}/login?next=%2F&sso=group")  # not the callback's code and state
        expect(other.locator("#account-badge")).to_have_count(0)
    finally:
        context.close()
    page.reload()  # the first browser's session ended too
    expect(page).to_have_url(f"{arena.url}/login?next=/")
    gone = page.request.get(arena.url + "/api/auth/me", headers={"authorization": f"Bearer {token}"})
    assert gone.status == 401


def test_a_tampered_state_is_refused(arena: RunningArena, idp: Provider, page: Page) -> None:
    idp.set_user("sub-gail", preferred_username="gail", groups=MEMBERS)

    def tamper(route: Route) -> None:
        """Between the provider and the browser, someone changes the state in the redirect back."""
        answer = route.fetch(max_redirects=0)
        back = urlsplit(answer.headers["location"])
        query = {name: values[0] for name, values in parse_qs(back.query).items()}
        query["state"] = query["state"][:-2] + ("AA" if not query["state"].endswith("AA") else "BB")
        route.fulfill(status=302, headers={"location": back._replace(query=urlencode(query)).geturl()})

    page.route(
        idp.issuer + "/oauth2/authorize*",
        lambda route: tamper(route) if route.request.method == "POST" else route.continue_(),
    )
    page.goto(arena.url + "/login")
    sign_in_at_provider(page, "sub-gail")
    expect(page.locator("#sso-error")).to_contain_text("unknown, expired or was started in another browser")
    expect(page).to_have_url(re.compile(re.escape(arena.url + "/login?") + r"[^#]*sso=again"))
    expect(page.locator("#account-badge")).to_have_count(0)
    assert page.request.get(arena.url + "/api/auth/me").status == 401


def test_a_provider_user_named_like_the_local_admin_is_someone_else(
    arena: RunningArena, idp: Provider, page: Page, browser: Browser, problems: PageProblems
) -> None:
    idp.set_user("sub-not-ada", preferred_username="ada", groups=MEMBERS)
    page.goto(arena.url + "/audit")
    sign_in_at_provider(page, "sub-not-ada")
    # Sent on to /audit as asked, where the viewer it is gets the page that says it is for admins.
    expect(page.locator("#account-badge")).to_have_text("ada-sso · viewer")
    expect(page.get_by_text("Admins only")).to_be_visible()

    context, local = _other_browser(browser, problems)  # the break-glass admin, with a password
    try:
        local.goto(arena.url + "/login?next=/audit")
        local.fill("#login-username", "ada")
        local.fill("#login-password", PASSWORD)
        local.click("#login-form button[type=submit]")
        expect(local.locator("#account-badge")).to_have_text("ada · admin")
        expect(local.get_by_text("user.add").first).to_be_visible()  # the new account, audited
    finally:
        context.close()
