"""ID tokens a real provider would not issue, and providers that misbehave: each is refused with a
clear 4xx/502, starts no session and makes no account. The token double (tests/support/doubles/
oidc_tokens.py) signs them; an expired token also comes from the real provider."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from arena.settings import Settings
from arena.storage import audit
from tests.support.doubles.oidc_tokens import TokenDouble, token_double
from tests.support.fixtures import ArenaFactory
from tests.support.oidc_provider import oidc_provider, sso_login
from tests.support.server import RunningArena

pytestmark = pytest.mark.timeout(120)

SECRET = "double-client-secret-5b1e"


@pytest.fixture(scope="module")
def double() -> Iterator[TokenDouble]:
    with token_double() as idp:
        yield idp


@pytest.fixture(scope="module")
def arena(double: TokenDouble, module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(
        accounts=True,
        embedded_enabled=False,
        rate_limit_login="off",
        oidc_issuer=double.url,
        oidc_client_id="arena",
        oidc_client_secret=SECRET,
    )


@pytest.fixture(autouse=True)
def honest_double(double: TokenDouble) -> Iterator[None]:
    yield
    double.id_token_claims = {}
    double.sign_with_unknown_key = False


def login_with(
    arena: RunningArena, double: TokenDouble, sub: str, accept: str = "text/html"
) -> tuple[httpx.Response, int]:
    """The arena's answer to the provider's redirect back, and the status of /api/auth/me after it."""
    with arena.client() as client:
        answer = sso_login(client, double, sub, accept=accept)
        return answer, client.get("/api/auth/me").status_code


def test_a_good_token_logs_in_with_pkce_and_the_client_secret(arena: RunningArena, double: TokenDouble) -> None:
    answer, me = login_with(arena, double, "good-1")
    assert (answer.status_code, me) == (200, 200)  # the double checked the PKCE verifier and redirect URI
    assert double.client_auth[-1] == "Basic " + base64.b64encode(f"arena:{SECRET}".encode()).decode()


@pytest.mark.parametrize(
    ("claims", "said"),
    [
        # aud names another client, azp names ours: Authlib alone would take it; the audience check must not.
        ({"aud": "another-app", "azp": "arena"}, "ID token was refused (invalid_claim"),
        ({"aud": ["another-app", "a-third"]}, "ID token was refused"),
        ({"exp": 1_000_000_000, "iat": 999_999_000}, "ID token has expired"),
        ({"nonce": "replayed-nonce"}, "ID token was refused (invalid_claim"),
        ({"nonce": None}, "ID token was refused (missing_claim"),
        ({"iss": "http://127.0.0.1:9/elsewhere"}, "ID token was refused (invalid_claim"),
    ],
    ids=["wrong-audience", "only-other-audiences", "expired", "wrong-nonce", "no-nonce", "wrong-issuer"],
)
def test_an_id_token_that_fails_a_check_is_refused(
    arena: RunningArena, double: TokenDouble, claims: dict[str, object], said: str
) -> None:
    double.id_token_claims = claims
    answer, me = login_with(arena, double, "bad-claims", accept="application/json")
    assert answer.status_code == 401 and said in answer.text, answer.text
    assert me == 401


def test_a_token_signed_with_a_key_outside_the_jwks_is_refused(arena: RunningArena, double: TokenDouble) -> None:
    double.sign_with_unknown_key = True
    answer, me = login_with(arena, double, "forged", accept="application/json")
    assert answer.status_code == 401 and "ID token was refused" in answer.text
    assert me == 401
    with arena.database() as db, db.session() as session:
        from arena.storage import oidc as store

        assert store.find_user(session, issuer=double.url, subject="forged") is None


def test_an_expired_token_from_the_real_provider_is_refused(arena_factory: ArenaFactory) -> None:
    with oidc_provider(token_max_age=timedelta(minutes=-5)) as idp:
        arena = arena_factory(
            accounts=True, embedded_enabled=False, oidc_issuer=idp.issuer, oidc_client_id="arena", oidc_client_secret=SECRET
        )
        idp.set_user("late", preferred_username="late")
        with arena.client() as client:
            answer = sso_login(client, idp, "late", accept="application/json")
            assert answer.status_code == 401 and "ID token has expired" in answer.text
            assert client.get("/api/auth/me").status_code == 401


def test_endpoints_on_another_origin_are_refused_before_anything_is_sent(arena_factory: ArenaFactory) -> None:
    with token_double() as idp, token_double() as elsewhere:
        idp.token_endpoint = f"{elsewhere.url}/token"  # the discovery document points off the issuer's origin
        arena = arena_factory(accounts=True, embedded_enabled=False, oidc_issuer=idp.url, oidc_client_id="arena")
        with arena.client() as client:
            answer = sso_login(client, idp, "someone", accept="application/json")
            assert answer.status_code == 502 and "cannot be reached (EgressRefused)" in answer.text
        assert elsewhere.token_requests == 0  # no code, no secret ever went there


def test_a_discovery_document_naming_another_issuer_is_refused(arena_factory: ArenaFactory) -> None:
    with token_double() as idp:
        arena = arena_factory(accounts=True, embedded_enabled=False, oidc_issuer=idp.url + "/", oidc_client_id="arena")
        with arena.client() as client:
            answer = client.get("/auth/oidc/login", headers={"accept": "application/json"})
            assert answer.status_code == 502 and "names another issuer" in answer.json()["error"]


def test_a_provider_that_is_down_is_a_502_logged_once_and_refuses_nobody(
    arena_factory: ArenaFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """An outage is the operator's problem, not a login failure: no audit entries, no failed
    logins, no login-burst alert; one ERROR line, not one per try."""
    arena = arena_factory(
        accounts=True,
        embedded_enabled=False,
        oidc_issuer="http://127.0.0.1:9",
        oidc_client_id="arena",
        oidc_name="Keycloak",
        alert_login_failures="3/minute",
    )
    with caplog.at_level(logging.ERROR), arena.client() as client:
        answer = client.get("/auth/oidc/login", headers={"accept": "application/json"})
        assert answer.status_code == 502 and "cannot be reached" in answer.json()["error"]
        for _ in range(5):
            answer = client.get("/auth/oidc/login", headers={"accept": "text/html"})
            assert answer.status_code == 303 and answer.headers["location"].startswith("/login?")
        page = client.get(answer.headers["location"])
        assert "Keycloak cannot be reached just now" in page.text and 'id="login-form"' in page.text
    outage = [r for r in caplog.records if r.levelno == logging.ERROR and "single sign-on" in r.getMessage()]
    assert len(outage) == 1, [r.getMessage() for r in outage]
    with arena.database() as db, db.session() as session:
        actions = [e.action for e in audit.iter_entries(session)]
    assert not [a for a in actions if a.startswith(("login.", "abuse."))], actions


def test_the_secret_comes_from_a_file_and_never_reaches_a_log(
    arena_factory: ArenaFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret_file = tmp_path / "client-secret"
    secret_file.write_text(SECRET + "\n")
    with token_double() as idp:
        arena = arena_factory(
            accounts=True,
            embedded_enabled=False,
            oidc_issuer=idp.url,
            oidc_client_id="arena",
            oidc_client_secret_file=secret_file,
        )
        assert SECRET not in repr(arena.settings) and SECRET not in str(arena.settings.model_dump())
        with caplog.at_level(logging.DEBUG), arena.client() as client:
            assert sso_login(client, idp, "file-secret").status_code == 200
        assert idp.client_auth[-1] == "Basic " + base64.b64encode(f"arena:{SECRET}".encode()).decode()
    assert SECRET not in caplog.text
    assert "code_verifier" not in caplog.text  # Authlib logs the PKCE verifier at DEBUG: kept quiet


def test_settings_refuse_what_cannot_work(tmp_path: Path) -> None:
    base = {"_env_file": None, "ARENA_AUTH_MODE": "users", "ARENA_OIDC_CLIENT_ID": "arena"}
    for issuer, said in [
        ("http://idp.example.com", "must use https"),
        ("https://idp.example.com/?tenant=1", "without query"),
    ]:
        with pytest.raises(ValueError, match=said):
            Settings(**base, ARENA_OIDC_ISSUER=issuer)
    with pytest.raises(ValueError, match="needs accounts"):
        Settings(_env_file=None, ARENA_OIDC_ISSUER="https://idp.example.com", ARENA_OIDC_CLIENT_ID="arena")
    with pytest.raises(ValueError, match="cannot be read"):
        Settings(**base, ARENA_OIDC_ISSUER="https://idp.example.com", ARENA_OIDC_CLIENT_SECRET_FILE=tmp_path / "none")
    with pytest.raises(ValueError, match="role=value"):
        Settings(**base, ARENA_OIDC_ISSUER="https://idp.example.com", ARENA_OIDC_ROLE_VALUES="boss=x")
