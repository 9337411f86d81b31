"""Single sign-on against a real OpenID Connect provider on loopback (oidc-provider-mock), over HTTP:
the account is (issuer, sub), the role follows the claim at every login, a lost group ends
everything the person holds, and the login's state is single-use and tied to one browser."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from arena.storage import audit
from arena.storage.auth_models import User
from arena.storage.oidc_models import OidcIdentity
from tests.support.accounts import PASSWORD, api_token, login
from tests.support.fixtures import ArenaFactory
from tests.support.oidc_provider import Provider, oidc_provider, sso_login
from tests.support.server import RunningArena

pytestmark = pytest.mark.timeout(120)

SECRET = "client-secret-never-logged-7f3a"
MEMBERS = ["arena-users"]


@pytest.fixture(scope="module")
def idp() -> Iterator[Provider]:
    with oidc_provider() as provider:
        yield provider


@pytest.fixture(scope="module")
def arena(idp: Provider, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(
        accounts=True,  # local ada (admin), eve, rival, vic: the break-glass accounts stay
        embedded_enabled=False,
        rate_limit_login="1000/minute",  # every SSO start counts as a login attempt of the address
        oidc_issuer=idp.issuer,
        oidc_client_id="arena",
        oidc_client_secret=SECRET,
        oidc_required_claim="groups=arena-users",
        oidc_role_claim="groups",
        oidc_role_values="admin=arena-admins,evaluator=arena-evaluators",
    )


def browser(arena: RunningArena) -> httpx.Client:
    return arena.client(headers={"accept": "text/html"})


def left_on_login_page(client: httpx.Client, refused: httpx.Response) -> str:
    """A refused browser is sent to /login (not left on the callback URL, code and state in it):
    the text of the page it lands on."""
    assert refused.status_code == 303, refused.text
    location = refused.headers["location"]
    assert location.startswith("/login?") and "code=" not in location and "state=" not in location
    page = client.get(location)
    assert page.status_code == 200
    return page.text


def me(client: httpx.Client) -> dict[str, Any]:
    response = client.get("/api/auth/me", headers={"accept": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()


def audit_entries(arena: RunningArena, action: str) -> list[dict[str, Any]]:
    with login(arena, "ada") as admin:
        response = admin.client.get("/api/audit", params={"action": action, "limit": 50})
    assert response.status_code == 200, response.text
    return response.json()["entries"]


def test_first_login_makes_an_account_found_again_by_issuer_and_sub(arena: RunningArena, idp: Provider) -> None:
    idp.set_user("sub-carol", preferred_username="carol", groups=[*MEMBERS, "arena-evaluators"])
    with browser(arena) as client:
        answer = sso_login(client, idp, "sub-carol", next_path="/leaderboard")
        assert answer.status_code == 200
        assert 'href="/leaderboard"' in answer.text  # the page that moves on to where the user was headed
        first = me(client)
    assert (first["username"], first["role"], first["via"]) == ("carol", "evaluator", "session")

    # Another name at the provider later: still the same account (the name is only a label).
    idp.set_user("sub-carol", preferred_username="caroline", groups=MEMBERS)
    with browser(arena) as client:
        sso_login(client, idp, "sub-carol")
        assert me(client)["username"] == "carol"
    with arena.database() as db, db.session() as session:
        identities = session.scalars(select(OidcIdentity).where(OidcIdentity.subject == "sub-carol")).all()
        assert [(i.issuer, i.subject) for i in identities] == [(idp.issuer, "sub-carol")]
    created = [e for e in audit_entries(arena, "user.add") if e["target"] == "carol"]
    assert len(created) == 1 and created[0]["detail"]["via"] == "oidc"
    logins = [e for e in audit_entries(arena, "login.success") if e["actor"] == "carol"]
    assert len(logins) == 2 and all(e["detail"]["via"] == "oidc" for e in logins)


def test_a_provider_user_named_like_the_local_admin_gets_an_account_of_its_own(
    arena: RunningArena, idp: Provider
) -> None:
    idp.set_user("sub-impostor", preferred_username="ADA", email="ada@example.com", groups=MEMBERS)
    with browser(arena) as client:
        sso_login(client, idp, "sub-impostor")
        them = me(client)
        assert them["username"] == "ADA-sso" and them["role"] == "viewer"
        assert client.get("/api/users", headers={"accept": "application/json"}).status_code == 403
    with login(arena, "ada", PASSWORD) as admin:  # the local admin: untouched, still the admin
        assert me(admin.client)["role"] == "admin"
        users = {u["username"]: u["role"] for u in admin.client.get("/api/users").json()["users"]}
    assert users["ada"] == "admin" and users["ADA-sso"] == "viewer"


def test_the_role_follows_the_claim_at_every_login_and_a_change_ends_api_tokens(
    arena: RunningArena, idp: Provider
) -> None:
    idp.set_user("sub-dan", preferred_username="dan", groups=[*MEMBERS, "arena-admins"])
    with browser(arena) as client:
        sso_login(client, idp, "sub-dan")
        assert me(client)["role"] == "admin"
        csrf = me(client)["csrf_token"]
        made = client.post("/api/auth/tokens", json={"name": "nightly"}, headers={"x-csrf-token": csrf})
        assert made.status_code == 201, made.text
        token = made.json()["token"]
        assert arena.client().get("/api/users", headers={"authorization": f"Bearer {token}"}).status_code == 200

        idp.set_user("sub-dan", preferred_username="dan", groups=MEMBERS)  # demoted at the provider
        sso_login(client, idp, "sub-dan")
        assert me(client)["role"] == "viewer"
    # A token made for the admin role does not go on working with another role.
    assert arena.client().get("/api/users", headers={"authorization": f"Bearer {token}"}).status_code == 401
    changed = [e for e in audit_entries(arena, "user.role") if e["target"] == "dan"]
    assert changed[0]["detail"] == {"before": "admin", "role": "viewer", "via": "oidc"}


def test_losing_the_required_group_refuses_the_login_and_ends_sessions_and_tokens(
    arena: RunningArena, idp: Provider
) -> None:
    idp.set_user("sub-erin", preferred_username="erin", groups=[*MEMBERS, "arena-evaluators"])
    with browser(arena) as other_tab, browser(arena) as client:
        sso_login(other_tab, idp, "sub-erin")
        token = other_tab.post(
            "/api/auth/tokens", json={"name": "ci"}, headers={"x-csrf-token": me(other_tab)["csrf_token"]}
        ).json()["token"]

        idp.set_user("sub-erin", preferred_username="erin", groups=["contractors"])
        refused = sso_login(client, idp, "sub-erin")
        page = left_on_login_page(client, refused)
        assert "not in the group this arena requires (ARENA_OIDC_REQUIRED_CLAIM)" in page
        assert "ask whoever manages single sign-on" in page
        assert client.get("/api/auth/me").status_code == 401  # no session was started
        assert other_tab.get("/api/auth/me").status_code == 401  # and the one that was, ended
    assert arena.client().get("/api/auth/me", headers={"authorization": f"Bearer {token}"}).status_code == 401
    failure = [e for e in audit_entries(arena, "login.sso_refused") if e["actor"] == "erin"][0]
    assert failure["detail"] == {
        "sub": "sub-erin",
        "name": "erin",
        "via": "oidc",
        "reason": "required claim missing",
        "sessions_ended": 1,
        "api_tokens_ended": 1,
    }
    # Someone never let in gets no account at all.
    idp.set_user("sub-frank", preferred_username="frank", groups=["contractors"])
    with browser(arena) as client:
        assert "not in the group" in left_on_login_page(client, sso_login(client, idp, "sub-frank"))
    with login(arena, "ada") as admin:
        assert "frank" not in {u["username"] for u in admin.client.get("/api/users").json()["users"]}


def test_sso_refusals_are_their_own_kind_not_failed_passwords_nor_a_login_burst(
    arena: RunningArena, idp: Provider
) -> None:
    """Ten people not yet in the group are not someone guessing the password of "anonymous"."""
    failures_before = len(audit_entries(arena, "login.failure"))
    for n in range(12):  # more than ARENA_ALERT_LOGIN_FAILURES' default 10 in 5 minutes
        idp.set_user(f"sub-new-{n}", preferred_username=f"newcomer{n}", groups=["contractors"])
        with browser(arena) as client:
            assert sso_login(client, idp, f"sub-new-{n}").status_code == 303
    refused = [
        e for e in audit_entries(arena, "login.sso_refused") if e["detail"].get("sub", "").startswith("sub-new-")
    ]
    assert len(refused) == 12
    assert refused[0]["actor"] == "anonymous" and refused[0]["detail"]["name"].startswith("newcomer")
    assert len(audit_entries(arena, "login.failure")) == failures_before
    assert not [e for e in audit_entries(arena, "abuse.login_burst") if e["actor"] == "anonymous"]


def _callback_url(client: httpx.Client, idp: Provider, sub: str) -> str:
    start = client.get("/auth/oidc/login")
    return idp.authorize(start.headers["location"], sub)


def test_the_state_is_single_use_tied_to_its_browser_and_cannot_be_edited(arena: RunningArena, idp: Provider) -> None:
    idp.set_user("sub-gail", preferred_username="gail", groups=MEMBERS)
    with browser(arena) as client, browser(arena) as stranger:
        back = _callback_url(client, idp, "sub-gail")
        parts = urlsplit(back)
        query = parse_qs(parts.query)
        state = query["state"][0]
        other_last = "y" if state.endswith("x") else "x"  # an edit, whatever the state's last character
        edited = f"{parts.path}?code={query['code'][0]}&state={state[:-1]}{other_last}"
        refused = client.get(edited)
        assert "unknown, expired or was started in another browser" in left_on_login_page(client, refused)
        assert client.get("/api/auth/me").status_code == 401

        # The right URL in another browser (no flow cookie): refused, and it burns the state.
        assert stranger.get(back).headers["location"].startswith("/login?")
        assert client.get(back).headers["location"].startswith("/login?")  # used once already

        fresh = _callback_url(client, idp, "sub-gail")
        assert client.get(fresh).status_code == 200 and me(client)["username"] == "gail"
        assert client.get(fresh).status_code == 303  # never twice: back to the login page

    as_json = arena.client().get("/auth/oidc/callback", params={"state": "nope", "code": "x"})
    assert as_json.status_code == 400 and "sign in again" in as_json.json()["error"]
    # Our state in the stranger's browser is audited; a made-up state is not (see below).
    assert sum(e["detail"].get("reason") == "state" for e in audit_entries(arena, "login.sso_refused")) == 1


def test_a_code_issued_for_another_redirect_uri_is_refused(arena: RunningArena, idp: Provider) -> None:
    idp.set_user("sub-hank", preferred_username="hank", groups=MEMBERS)
    with browser(arena) as client:
        start = client.get("/auth/oidc/login").headers["location"]
        ours = parse_qs(urlsplit(start).query)
        assert ours["code_challenge_method"] == ["S256"] and ours["code_challenge"][0]  # PKCE
        assert ours["redirect_uri"] == [f"{arena.url}/auth/oidc/callback"]
        # An attacker's code, obtained for the same client id but another redirect URI, injected
        # into this browser's own login: the arena redeems it with its redirect URI, and is refused.
        elsewhere = start.replace("redirect_uri=http%3A%2F%2F127.0.0.1", "redirect_uri=http%3A%2F%2Flocalhost")
        stolen = parse_qs(urlsplit(idp.authorize(elsewhere, "sub-hank")).query)["code"][0]
        answer = client.get(
            "/auth/oidc/callback", params={"state": ours["state"][0], "code": stolen}, headers={"accept": "*/*"}
        )
        assert answer.status_code == 401 and "refused the login (invalid_grant)" in answer.json()["error"]
        assert client.get("/api/auth/me").status_code == 401


def test_a_provider_that_refuses_is_a_clear_4xx(arena: RunningArena, idp: Provider) -> None:
    with browser(arena) as client:
        start = client.get("/auth/oidc/login").headers["location"]
        # This provider's refusal comes back without the state (RFC 6749 wants it): not this login.
        denied = httpx.post(start, data={"action": "deny"}, timeout=10).headers["location"]
        answer = client.get(denied)
        assert 'id="sso-login"' in left_on_login_page(client, answer)  # the login page, to try again
        # A provider that sends the state back with its error: the arena says what it said.
        state = parse_qs(urlsplit(client.get("/auth/oidc/login").headers["location"]).query)["state"][0]
        params = {"state": state, "error": "access_denied"}
        answer = client.get("/auth/oidc/callback", params=params, headers={"accept": "*/*"})
        assert answer.status_code == 403 and "did not sign you in (access_denied)" in answer.json()["error"]
        assert client.get("/api/auth/me").status_code == 401


def test_logout_ends_the_session_and_points_at_the_providers_end_session(arena: RunningArena, idp: Provider) -> None:
    idp.set_user("sub-ida", preferred_username="ida", groups=MEMBERS)
    with browser(arena) as client:
        sso_login(client, idp, "sub-ida")
        out = client.post("/api/auth/logout", headers={"x-csrf-token": me(client)["csrf_token"]})
        assert out.status_code == 200
        end = urlsplit(out.json()["end_session_url"])
        assert f"{end.scheme}://{end.netloc}{end.path}" == f"{idp.issuer}/oauth2/end_session"
        assert parse_qs(end.query)["post_logout_redirect_uri"] == [f"{arena.url}/login"]
        assert client.get("/api/auth/me").status_code == 401
    local = login(arena, "eve")  # a local account's logout stays as it was
    with local:
        assert local.request("POST", "/api/auth/logout").status_code == 204


def test_an_sso_account_has_no_password_and_keeps_the_token_rules(arena: RunningArena, idp: Provider) -> None:
    idp.set_user("sub-jo", preferred_username="jo", groups=[*MEMBERS, "arena-evaluators"])
    with browser(arena) as client:
        sso_login(client, idp, "sub-jo")
    refused = arena.client().post("/api/auth/login", json={"username": "jo", "password": PASSWORD})
    assert refused.status_code == 401
    with login(arena, "ada") as admin:  # nor can an admin give it one: the provider decides who gets in
        given = admin.request("PATCH", "/api/users/jo", json={"password": "a-local-password"})
        assert given.status_code == 400 and "single sign-on" in given.json()["error"]
        listed = {u["username"]: u["sso"] for u in admin.client.get("/api/users").json()["users"]}
    assert listed["jo"] is True and listed["eve"] is False
    assert (
        arena.client().post("/api/auth/login", json={"username": "jo", "password": "a-local-password"}).status_code
        == 401
    )
    token = api_token(arena, "eve")  # tokens of local accounts are untouched by all this
    assert arena.client().get("/api/auth/me", headers={"authorization": f"Bearer {token}"}).status_code == 200


def test_the_login_page_offers_the_provider_and_the_local_form(arena: RunningArena) -> None:
    page = browser(arena).get("/login", params={"next": "/bench"})
    assert 'href="/auth/oidc/login?next=/bench"' in page.text
    assert "Sign in with single sign-on" in page.text and 'id="login-form"' in page.text


def test_sso_off_has_no_routes(arena_factory: ArenaFactory) -> None:
    plain = arena_factory(accounts=True, embedded_enabled=False)
    with plain.client() as client:
        assert client.get("/auth/oidc/login").status_code == 404
        assert "Sign in with" not in client.get("/login").text


def _user_id(arena: RunningArena, username: str) -> int | None:
    with arena.database() as db, db.session() as session:
        return session.scalar(select(User.id).where(User.username == username))


def test_a_removed_sso_account_comes_back_as_a_new_empty_one(arena: RunningArena, idp: Provider) -> None:
    idp.set_user("sub-kim", preferred_username="kim", groups=MEMBERS)
    with browser(arena) as client:
        sso_login(client, idp, "sub-kim")
    first = _user_id(arena, "kim")
    with login(arena, "ada") as admin:
        assert admin.request("DELETE", "/api/users/kim").status_code == 204
    with arena.database() as db, db.session() as session:  # the identity went with the account
        assert session.scalar(select(OidcIdentity).where(OidcIdentity.subject == "sub-kim")) is None
    with browser(arena) as client:
        sso_login(client, idp, "sub-kim")
        assert me(client)["username"] == "kim"
    assert _user_id(arena, "kim") not in (None, first)  # ids are never reused: nothing old comes back


# --- the edges an attacker pushes on: a trusted proxy in front (https, one address per test) ------

PROXY_LIMIT = 6


@pytest.fixture(scope="module")
def edge(idp: Provider, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(
        accounts=True,
        embedded_enabled=False,
        trusted_proxies=["127.0.0.1"],
        rate_limit_login=f"{PROXY_LIMIT}/minute",
        oidc_issuer=idp.issuer,
        oidc_client_id="arena",
        oidc_client_secret=SECRET,
    )


def state_failures(arena: RunningArena) -> int:
    with arena.database() as db, db.session() as session:
        return sum(
            e.action == audit.LOGIN_SSO_REFUSED and (e.detail or {}).get("reason") == "state"
            for e in audit.iter_entries(session)
        )


def test_made_up_callbacks_spend_the_login_budget_and_write_no_audit_entries(edge: RunningArena) -> None:
    before = state_failures(edge)
    with edge.client(headers={"x-forwarded-for": "203.0.113.50"}) as client:
        statuses = [
            client.get("/auth/oidc/callback", params={"state": f"xxxxxxxxxx{n}", "code": "c"}).status_code
            for n in range(PROXY_LIMIT + 3)
        ]
    assert statuses == [400] * PROXY_LIMIT + [429] * 3, statuses
    assert state_failures(edge) == before  # nothing we issued: nothing worth a signed entry
    with edge.client(headers={"x-forwarded-for": "203.0.113.51"}) as other:  # other addresses: unaffected
        assert other.get("/auth/oidc/callback", params={"state": "x", "code": "c"}).status_code == 400


def _cookies(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie header by cookie name, whole (attributes included)."""
    return {header.split("=", 1)[0]: header for header in response.headers.get_list("set-cookie")}


def test_a_flow_cookie_planted_by_an_attacker_is_never_adopted(edge: RunningArena, idp: Provider) -> None:
    """Login CSRF: mallory plants a flow value in the victim's browser, starts a login with the same
    value, signs in at the provider as herself and sends the victim the callback URL."""
    idp.set_user("sub-mallory", preferred_username="mallory")
    planted = {"arena_oidc": "A" * 43}
    headers = {"x-forwarded-for": "203.0.113.60", "accept": "text/html"}
    with edge.client(headers=headers, cookies=planted) as attacker:
        start = attacker.get("/auth/oidc/login")
        assert start.status_code == 303
        fresh = _cookies(start)["arena_oidc"]
        assert not fresh.startswith("arena_oidc=" + planted["arena_oidc"] + ";")  # a value of the server's
        back = idp.authorize(start.headers["location"], "sub-mallory")
    with edge.client(headers=headers, cookies=planted) as victim:
        answer = victim.get(back)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?"), answer.text
        assert victim.get("/api/auth/me", headers={"accept": "application/json"}).status_code == 401


def test_over_https_the_flow_cookie_is_host_prefixed_and_only_that_one_counts(
    edge: RunningArena, idp: Provider
) -> None:
    idp.set_user("sub-nina", preferred_username="nina")
    headers = {"x-forwarded-for": "203.0.113.70", "x-forwarded-proto": "https"}
    with edge.client(headers=headers) as client:  # a jar-less look at each answer's cookies
        for plantable in (False, True):
            start = client.get("/auth/oidc/login")
            cookie = _cookies(start)["__Host-arena_oidc"]
            attributes = [part.strip().lower() for part in cookie.split(";")]
            assert "secure" in attributes and "path=/" in attributes and "httponly" in attributes
            assert not any(part.startswith("domain") for part in attributes)
            value = cookie.split(";")[0].split("=", 1)[1]
            callback = urlsplit(idp.authorize(start.headers["location"], "sub-nina"))
            assert callback.scheme == "https"
            # Without the prefix, the same value could have been planted from a subdomain or over http.
            name = "arena_oidc" if plantable else "__Host-arena_oidc"
            answer = client.get(f"{callback.path}?{callback.query}", headers={"cookie": f"{name}={value}"})
            assert answer.status_code == (400 if plantable else 204), answer.text


def test_sign_in_starts_never_spend_the_password_budget_and_only_navigations_start(edge: RunningArena) -> None:
    """A page a staff member visits must not lock the office's password logins out with <img> starts."""
    address = {"x-forwarded-for": "203.0.113.80"}
    image = {"sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors", "sec-fetch-dest": "image"}
    with edge.client(headers=address) as client:
        for _ in range(PROXY_LIMIT + 2):
            fired = client.get("/auth/oidc/login", headers=image)
            assert fired.status_code == 403 and "link or the address bar" in fired.json()["error"]
        assert (
            client.get("/auth/oidc/login", headers={"sec-fetch-mode": "cors", "sec-fetch-dest": "empty"}).status_code
            == 403
        )
        navigation = {"sec-fetch-site": "same-origin", "sec-fetch-mode": "navigate", "sec-fetch-dest": "document"}
        statuses = [client.get("/auth/oidc/login", headers=navigation).status_code for _ in range(PROXY_LIMIT + 1)]
        assert statuses == [303] * PROXY_LIMIT + [429], statuses  # starts have a window of their own
        logged_in = client.post("/api/auth/login", json={"username": "eve", "password": PASSWORD})
        assert logged_in.status_code == 200, logged_in.text  # and the password budget is whole
