"""Users mode end to end over HTTP: login, session cookie, CSRF, logout, expiry, API tokens,
user management, login throttling, tokens that end and names that ignore case. Real server, real SQLite, real argon2id hashes."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from arena.accounts import digest
from arena.cli import app as cli
from arena.storage.auth_models import ApiToken, User, UserSession
from arena.storage.models import utcnow
from arena.web.auth.throttle import LoginThrottle
from tests.support.accounts import PASSWORD, api_token, login, users_arena
from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena


@pytest.fixture(scope="module")
def arena(module_arena_factory: ArenaFactory) -> RunningArena:
    # Many logins from one address in one module: more than the default per-address limit.
    return module_arena_factory(accounts=True, embedded_enabled=False, rate_limit_login="200/minute")



def test_nothing_but_health_and_login_answers_without_logging_in(arena: RunningArena) -> None:
    with arena.client() as client:
        assert client.get("/api/health").status_code == 200
        refused = client.get("/api/conversations")
        assert refused.status_code == 401
        assert "Log in" in refused.json()["error"]
        page = client.get("/", follow_redirects=False)
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=/"
        assert client.get("/login").status_code == 200


def test_login_sets_a_strict_httponly_cookie_and_wrong_passwords_are_refused(arena: RunningArena) -> None:
    with arena.client() as client:
        wrong = client.post("/api/auth/login", json={"username": "eve", "password": "not it"})
        assert wrong.status_code == 401
        assert wrong.json() == {"error": "Wrong username or password"}
        nobody = client.post("/api/auth/login", json={"username": "nobody", "password": PASSWORD})
        assert nobody.json() == wrong.json()  # the same answer: no hint which names exist
        ok = client.post("/api/auth/login", json={"username": "eve", "password": PASSWORD})
        assert ok.status_code == 200
        assert ok.json()["role"] == "evaluator"
        cookie = ok.headers["set-cookie"]
        assert "arena_session=" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
        assert "Secure" not in cookie  # plain http on loopback; https gets Secure
        me = client.get("/api/auth/me").json()
        assert me["username"] == "eve"
        assert me["csrf_token"] == ok.json()["csrf_token"]


def test_a_change_by_cookie_needs_the_csrf_token(arena: RunningArena) -> None:
    with login(arena, "eve") as session:
        client = session.client
        body = {"markdown": "*hi*"}
        missing = client.post("/api/render", json=body)
        assert missing.status_code == 403
        assert "CSRF" in missing.json()["error"]
        # Change the first character to one it is not: a fixed "x" was the token itself 1 time in 64.
        first = "y" if session.csrf_token[0] == "x" else "x"
        wrong = client.post("/api/render", json=body, headers={"X-CSRF-Token": first + session.csrf_token[1:]})
        assert wrong.status_code == 403
        assert session.request("POST", "/api/render", json=body).status_code == 200
        # Reading needs no token.
        assert client.get("/api/conversations").status_code == 200


def test_each_login_gets_a_new_cookie_and_logout_ends_it_on_the_server(arena: RunningArena) -> None:
    first = login(arena, "eve")
    second = login(arena, "eve")
    old_cookie = first.client.cookies["arena_session"]
    assert old_cookie != second.client.cookies["arena_session"]
    assert first.request("POST", "/api/auth/logout").status_code == 204
    with arena.client() as replay:
        replay.cookies.set("arena_session", old_cookie)
        assert replay.get("/api/auth/me").status_code == 401
    assert second.client.get("/api/auth/me").status_code == 200  # other sessions live on
    first.client.close()
    second.client.close()


def test_idle_and_old_sessions_end(arena: RunningArena) -> None:
    idle = login(arena, "vic")
    old = login(arena, "vic")
    with arena.database() as database, database.session() as session:
        too_long_ago = utcnow() - timedelta(minutes=arena.settings.session_idle_minutes + 1)
        session.execute(
            update(UserSession)
            .where(UserSession.token_hash == digest(idle.client.cookies["arena_session"]))
            .values(last_seen_at=too_long_ago)
        )
        session.execute(
            update(UserSession)
            .where(UserSession.token_hash == digest(old.client.cookies["arena_session"]))
            .values(created_at=utcnow() - timedelta(hours=arena.settings.session_max_hours, minutes=1))
        )
    for ended in (idle, old):
        response = ended.client.get("/api/auth/me")
        assert response.status_code == 401
        assert "session has ended" in response.json()["error"]
        ended.client.close()


def test_api_tokens_are_shown_once_work_as_bearer_and_stop_when_revoked(arena: RunningArena) -> None:
    token = api_token(arena, "eve", name="nightly")
    assert token.startswith("arena_")
    bearer = {"Authorization": f"Bearer {token}"}
    with arena.client() as script:
        me = script.get("/api/auth/me", headers=bearer).json()
        assert (me["username"], me["via"], me["csrf_token"]) == ("eve", "api_token", None)
        # No CSRF token with a bearer token: browsers never add one on their own.
        assert script.post("/api/render", json={"markdown": "x"}, headers=bearer).status_code == 200
        listed = script.get("/api/auth/tokens", headers=bearer).json()["tokens"]
        mine = [t for t in listed if t["name"] == "nightly"]
        assert len(mine) == 1
        assert "token" not in mine[0]
        assert script.delete(f"/api/auth/tokens/{mine[0]['id']}", headers=bearer).status_code == 204
        revoked = script.get("/api/auth/me", headers=bearer)
        assert revoked.status_code == 401
        assert script.get("/api/auth/me", headers={"Authorization": "Bearer arena_wrong"}).status_code == 401
    with arena.database() as database, database.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT token_hash FROM api_tokens").scalars().all()
    assert token not in stored  # only its hash is kept


def test_admins_manage_users_and_the_last_admin_stays(arena: RunningArena) -> None:
    admin = login(arena, "ada")
    evaluator = login(arena, "eve")
    try:
        assert evaluator.request("POST", "/api/users", json={"username": "x", "password": PASSWORD}).status_code == 403
        made = admin.request("POST", "/api/users", json={"username": "newbie", "password": PASSWORD, "role": "viewer"})
        assert made.status_code == 201
        assert admin.request("POST", "/api/users", json={"username": "newbie", "password": PASSWORD}).status_code == 409
        short = admin.request("POST", "/api/users", json={"username": "shorty", "password": "short"})
        assert short.status_code == 400
        assert "at least 8" in short.json()["error"]
        bad_name = admin.request("POST", "/api/users", json={"username": "no spaces", "password": PASSWORD})
        assert bad_name.status_code == 400
        newbie = login(arena, "newbie")
        assert admin.request("PATCH", "/api/users/newbie", json={"role": "evaluator"}).json()["role"] == "evaluator"
        assert newbie.client.get("/api/auth/me").json()["role"] == "evaluator"  # roles apply at once
        assert admin.request("PATCH", "/api/users/newbie", json={"password": "another password"}).status_code == 200
        assert newbie.client.get("/api/auth/me").status_code == 401  # a new password ends old sessions
        newbie.client.close()
        last = admin.request("PATCH", "/api/users/ada", json={"role": "viewer"})
        assert last.status_code == 409
        assert "last admin" in last.json()["error"]
        assert admin.request("DELETE", "/api/users/ada").status_code == 409
        assert admin.request("DELETE", "/api/users/newbie").status_code == 204
        names = [u["username"] for u in admin.client.get("/api/users").json()["users"]]
        assert "newbie" not in names
        assert admin.request("DELETE", "/api/users/newbie").status_code == 404
    finally:
        admin.client.close()
        evaluator.client.close()


def test_passwords_are_stored_as_argon2id_hashes(arena: RunningArena) -> None:
    with arena.database() as database, database.session() as session:
        hashes = [user.password_hash for user in session.query(User)]
    assert hashes
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)


def test_accounts_routes_say_so_when_accounts_are_off(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.support.server import make_settings, running_arena

    with running_arena(make_settings(tmp_path, embedded_enabled=False)) as local, local.client() as client:
        refused = client.post("/api/auth/login", json={"username": "a", "password": "b"})
        assert refused.status_code == 400
        assert "ARENA_AUTH_MODE=users" in refused.json()["error"]
        assert client.get("/api/auth/me").json()["auth_mode"] == "none"
        assert client.get("/login", follow_redirects=False).status_code == 303


def test_a_wait_is_cleared_by_arena_user_unlock_while_the_server_runs(isolated_environment: Path) -> None:
    with users_arena(isolated_environment, embedded_enabled=False) as running, running.client() as client:
        with running.database() as database:  # many failures from this client's address
            throttle = LoginThrottle.from_settings(running.settings, database)
            for _ in range(12):
                throttle.failed("vic", "127.0.0.1")
        refused = client.post("/api/auth/login", json={"username": "vic", "password": PASSWORD})
        assert refused.status_code == 429  # even the right password waits
        assert int(refused.headers["retry-after"]) > 60
        assert "Too many failed logins" in refused.json()["error"]
        assert client.post("/api/auth/login", json={"username": "eve", "password": PASSWORD}).status_code == 200

        unlocked = CliRunner().invoke(cli, ["user", "unlock", "VIC"], env={"COLUMNS": "200"})
        assert unlocked.exit_code == 0, unlocked.output
        assert "unlocked vic" in unlocked.output
        assert client.post("/api/auth/login", json={"username": "vic", "password": PASSWORD}).status_code == 200
        unknown = CliRunner().invoke(cli, ["user", "unlock", "nobody"], env={"COLUMNS": "200"})
        assert unknown.exit_code != 0 and "does not exist" in unknown.output


def test_api_tokens_end_with_a_password_change_a_role_change_or_removal(arena: RunningArena) -> None:
    changes = {
        "password": ("PATCH", {"password": "a brand new password"}),
        "role": ("PATCH", {"role": "viewer"}),
        "removal": ("DELETE", None),
    }
    with login(arena, "ada") as admin, arena.client() as script:
        for what, (method, body) in changes.items():
            name = f"tok-{what}"
            assert admin.request("POST", "/api/users", json={"username": name, "password": PASSWORD}).status_code == 201
            bearer = {"Authorization": f"Bearer {api_token(arena, name)}"}
            assert script.get("/api/auth/me", headers=bearer).status_code == 200
            if what == "role":  # the same role again changes nothing
                assert admin.request("PATCH", f"/api/users/{name}", json={"role": "evaluator"}).status_code == 200
                assert script.get("/api/auth/me", headers=bearer).status_code == 200
            changed = admin.request(method, f"/api/users/{name}", **({"json": body} if body else {}))
            assert changed.status_code in (200, 204), changed.text
            ended = script.get("/api/auth/me", headers=bearer)
            assert ended.status_code == 401, (what, ended.text)


def test_api_tokens_expire_and_say_so(arena: RunningArena) -> None:
    with login(arena, "rival") as rival, arena.client() as script:
        made = rival.request("POST", "/api/auth/tokens", json={"name": "short-lived", "days": 2})
        assert made.status_code == 201, made.text
        expires_at = datetime.fromisoformat(made.json()["expires_at"])
        assert abs(expires_at - (utcnow() + timedelta(days=2))) < timedelta(minutes=5)
        default = rival.request("POST", "/api/auth/tokens", json={"name": "default"}).json()
        assert abs(datetime.fromisoformat(default["expires_at"]) - (utcnow() + timedelta(days=90))) < timedelta(minutes=5)
        listed = {t["name"]: t for t in rival.client.get("/api/auth/tokens").json()["tokens"]}
        assert listed["short-lived"]["expires_at"] == made.json()["expires_at"]
        too_long = rival.request("POST", "/api/auth/tokens", json={"name": "forever", "days": 400})
        assert too_long.status_code == 400
        assert "ARENA_TOKEN_MAX_DAYS" in too_long.json()["error"]

        bearer = {"Authorization": f"Bearer {made.json()['token']}"}
        assert script.get("/api/auth/me", headers=bearer).status_code == 200
        with arena.database() as database, database.session() as session:
            session.execute(
                update(ApiToken).where(ApiToken.id == made.json()["id"]).values(expires_at=utcnow() - timedelta(seconds=1))
            )
        expired = script.get("/api/auth/me", headers=bearer)
        assert expired.status_code == 401
        assert "expired" in expired.json()["error"] and "make a new one" in expired.json()["error"]


def test_a_name_in_another_case_is_the_same_account(arena: RunningArena) -> None:
    with login(arena, "ada") as admin:
        twin = admin.request("POST", "/api/users", json={"username": "EVE", "password": PASSWORD})
        assert twin.status_code == 409
        assert "already exists as 'eve'" in twin.json()["error"]
    for typed in ("EVE", "Eve", "\uff45\uff56\uff45"):  # the last one full-width
        with login(arena, typed) as same:
            assert same.client.get("/api/auth/me").json()["username"] == "eve"
