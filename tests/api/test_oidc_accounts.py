"""The rules behind a single sign-on, without a provider: which account verified claims become (on
SQLite and PostgreSQL), and what the claims mean (required claim, role, name)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from arena import accounts
from arena.settings import Settings
from arena.storage import oidc as oidc_store
from arena.storage.db import Database
from arena.web.auth.oidc_accounts import sign_in
from arena.web.auth.oidc_claims import claim, meets_requirement, role_of, wanted_name

ISSUER = "https://sso.example.com/realms/team"


def settings(**values: Any) -> Settings:
    return Settings(
        _env_file=None,
        ARENA_AUTH_MODE="users",
        ARENA_OIDC_ISSUER=ISSUER,
        ARENA_OIDC_CLIENT_ID="arena",
        **values,
    )


def test_claims_by_name_by_path_and_by_url_like_name() -> None:
    claims = {"realm_access": {"roles": ["arena-admins"]}, "https://example.com/roles": ["x"], "email_verified": True}
    assert claim(claims, "realm_access.roles") == ["arena-admins"]
    assert claim(claims, "https://example.com/roles") == ["x"]
    assert claim(claims, "realm_access.nope") is None
    assert meets_requirement(claims, "email_verified=true")
    assert meets_requirement(claims, "realm_access.roles=arena-admins")
    assert not meets_requirement(claims, "realm_access.roles=arena-users")
    assert not meets_requirement({"groups": []}, "groups") and meets_requirement({"groups": ["a"]}, "groups")
    assert not meets_requirement({"email_verified": False}, "email_verified")


def test_the_highest_mapped_role_wins_and_anything_else_is_the_default() -> None:
    mapped = settings(ARENA_OIDC_ROLE_CLAIM="groups", ARENA_OIDC_ROLE_VALUES="admin=ops,evaluator=ml")
    assert role_of({"groups": ["ml", "ops", "x"]}, mapped) == "admin"
    assert role_of({"groups": "ml"}, mapped) == "evaluator"
    assert role_of({"groups": ["admin"]}, mapped) == "viewer"  # "admin" is not a mapped value here
    assert role_of({}, settings(ARENA_OIDC_DEFAULT_ROLE="evaluator")) == "evaluator"
    assert role_of({"arena_role": "admin"}, settings(ARENA_OIDC_ROLE_CLAIM="arena_role")) == "admin"
    verified = {"email": "zoe@example.com", "email_verified": True, "sub": "1"}
    assert wanted_name(verified, settings()) == "zoe"
    # An address the provider did not verify is whatever the person typed: not a name source.
    assert wanted_name({**verified, "email_verified": False}, settings()) == "1"
    assert wanted_name({**verified, "email_verified": "true"}, settings()) == "1"
    assert wanted_name({"email": "zoe@example.com", "sub": "1"}, settings()) == "1"
    assert wanted_name({"sub": "abc"}, settings()) == "abc"


def test_accounts_are_found_by_issuer_and_sub_and_names_never_collide(database: Database) -> None:
    accounts.add_user(database, username="admin", password="local admin password", role="admin")
    config = settings(ARENA_OIDC_ROLE_CLAIM="role")
    first = sign_in(database, settings=config, claims={"sub": "1", "preferred_username": "Admin", "role": "viewer"})
    second = sign_in(database, settings=config, claims={"sub": "2", "preferred_username": "admin"})
    odd = sign_in(database, settings=config, claims={"sub": "3", "preferred_username": " ..x y/z\n"})
    assert first.account is not None and first.created and first.account.username == "Admin-sso"
    assert second.account is not None and second.account.username == "admin-sso-2"
    assert odd.account is not None and odd.account.username == "x-y-z"
    again = sign_in(database, settings=config, claims={"sub": "1", "preferred_username": "other", "role": "admin"})
    assert again.account is not None and again.account.id == first.account.id and not again.created
    assert (again.account.role, again.role_before) == ("admin", "viewer")
    local = accounts.verify_password(database, username="admin", password="local admin password")
    assert local is not None and local.role == "admin"
    assert accounts.verify_password(database, username="Admin-sso", password="local admin password") is None


def test_a_lost_required_claim_ends_sessions_and_tokens(database: Database) -> None:
    config = settings(ARENA_OIDC_REQUIRED_CLAIM="groups=arena")
    member = sign_in(database, settings=config, claims={"sub": "9", "preferred_username": "lee", "groups": ["arena"]})
    assert member.account is not None
    login = accounts.start_session(database, account=member.account, ip=None)
    token, _ = accounts.issue_api_token(database, account=member.account, name="ci")

    refused = sign_in(database, settings=config, claims={"sub": "9", "preferred_username": "lee", "groups": []})
    assert refused.account is None and refused.known_as == "lee"
    assert refused.ended is not None and (refused.ended.sessions, refused.ended.tokens) == (1, 1)
    assert accounts.resolve_api_token(database, token=token) is None
    resumed = accounts.resume_session(database, cookie=login.cookie, idle=timedelta(hours=1), max_age=timedelta(days=1))
    assert resumed is None
    stranger = sign_in(database, settings=config, claims={"sub": "10", "preferred_username": "sam"})
    assert stranger.account is None and stranger.known_as is None and stranger.ended is None


@pytest.mark.parametrize("sub", ["1", "x" * 255])
def test_subjects_up_to_the_specs_length_are_stored(database: Database, sub: str) -> None:
    made = sign_in(database, settings=settings(), claims={"sub": sub, "preferred_username": "pat"})
    assert made.account is not None
    assert sign_in(database, settings=settings(), claims={"sub": sub}).account == made.account


def test_look_alike_names_are_normalised_before_the_collision_check(database: Database) -> None:
    accounts.add_user(database, username="admin", password="local admin password", role="admin")
    full_width = sign_in(database, settings=settings(), claims={"sub": "fw", "preferred_username": "ａｄｍｉｎ"})
    assert full_width.account is not None and full_width.account.username == "admin-sso"
    ligature = sign_in(database, settings=settings(), claims={"sub": "lig", "preferred_username": "ﬁona"})
    assert ligature.account is not None and ligature.account.username == "fiona"


def test_two_first_logins_racing_for_one_name_both_get_an_account(database: Database) -> None:
    """Another first login commits "alice" after this one looked for a free name and before it
    inserts: this one must move on to the next free name, not fail."""
    sign_in(database, settings=settings(), claims={"sub": "first", "preferred_username": "bob"})  # ids counted
    looked = threading.Event()

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # The racing sign-in has checked the name and now takes a user id: commit the rival.
        if threading.current_thread().name == "racer" and statement.lstrip().upper().startswith("UPDATE ID_COUNTERS"):
            looked.set()

    result: dict[str, Any] = {}

    def race() -> None:
        try:
            claims = {"sub": "late", "preferred_username": "alice"}
            result["made"] = sign_in(database, settings=settings(), claims=claims)
        except Exception as exc:  # handed to the test thread, which asserts on it
            result["error"] = exc

    event.listen(database.engine, "before_cursor_execute", on_execute)
    racer = threading.Thread(target=race, name="racer")
    try:
        with database.session() as session:  # the rival's first login, not yet committed
            oidc_store.add_user(
                session, issuer=ISSUER, subject="early", wanted_name="alice", role="viewer", password_hash="x"
            )
            racer.start()
            assert looked.wait(timeout=30)
        racer.join(timeout=60)
    finally:
        event.remove(database.engine, "before_cursor_execute", on_execute)
    assert "error" not in result, result.get("error")
    made = result["made"]
    assert made.account is not None and made.created and made.account.username == "alice-sso"
