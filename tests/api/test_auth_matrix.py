"""Every route × every kind of caller → the expected status, generated from the app's route table.

A new route fails `test_every_route_has_an_expected_role` until it is given a role here, so no
route can be forgotten. Roles are checked with API tokens (bearer, no CSRF needed); cookies and
CSRF are covered in test_accounts.py, ownership at the end of this file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from arena.web.app import create_app
from tests.support.accounts import api_token
from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena, make_settings, ndjson_lines

SMOL = "local:smollm2-135m-instruct"
PUBLIC, ANY, VIEWER, EVALUATOR, ADMIN = "public", "any account", "viewer", "evaluator", "admin"
RANK = {VIEWER: 0, EVALUATOR: 1, ADMIN: 2}
ROLE_OF_USER = {"vic": VIEWER, "eve": EVALUATOR, "ada": ADMIN}
PAGES = {"/", "/leaderboard", "/bench", "/audit"}
MISSING_CONVERSATION = "0" * 32

EXPECTED: dict[tuple[str, str], str] = {
    ("GET", "/api/health"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/api/auth/login"): PUBLIC,
    ("GET", "/api/render/pygments.css"): PUBLIC,
    ("POST", "/api/auth/logout"): ANY,
    ("GET", "/api/auth/me"): ANY,
    ("GET", "/api/auth/tokens"): ANY,
    ("POST", "/api/auth/tokens"): ANY,
    ("DELETE", "/api/auth/tokens/{token_id}"): ANY,
    ("GET", "/"): VIEWER,
    ("GET", "/leaderboard"): VIEWER,
    ("GET", "/api/models"): VIEWER,
    ("GET", "/api/leaderboard"): VIEWER,
    ("POST", "/api/render"): VIEWER,
    ("GET", "/api/conversations"): VIEWER,
    ("GET", "/api/conversations/{conversation_id}"): VIEWER,
    ("GET", "/api/conversations/{conversation_id}/export"): VIEWER,
    ("GET", "/api/conversations/{conversation_id}/shares"): VIEWER,
    ("GET", "/api/judge"): VIEWER,
    ("GET", "/bench"): EVALUATOR,
    ("POST", "/api/chat"): EVALUATOR,
    ("POST", "/api/stream_chat"): EVALUATOR,
    ("POST", "/api/stop"): EVALUATOR,
    ("POST", "/api/attachments"): EVALUATOR,
    ("POST", "/api/conversations"): EVALUATOR,
    ("POST", "/api/conversations/import"): EVALUATOR,
    ("PATCH", "/api/conversations/{conversation_id}"): EVALUATOR,
    ("DELETE", "/api/conversations/{conversation_id}"): EVALUATOR,
    ("POST", "/api/conversations/{conversation_id}/reveal"): EVALUATOR,
    ("POST", "/api/conversations/{conversation_id}/votes"): EVALUATOR,
    ("POST", "/api/conversations/{conversation_id}/shares"): EVALUATOR,
    ("DELETE", "/api/conversations/{conversation_id}/shares/{username}"): EVALUATOR,
    ("POST", "/api/judge"): EVALUATOR,
    ("GET", "/api/judge/cloud"): EVALUATOR,
    ("GET", "/api/bench/runs"): EVALUATOR,
    ("POST", "/api/bench/runs"): EVALUATOR,
    ("GET", "/api/bench/runs/{run_id}"): EVALUATOR,
    ("POST", "/api/bench/runs/{run_id}/cancel"): EVALUATOR,
    ("POST", "/api/bench/runs/{run_id}/resume"): EVALUATOR,
    ("GET", "/api/bench/runs/{run_id}/report"): EVALUATOR,
    ("GET", "/audit"): ADMIN,
    ("POST", "/api/pull_model"): ADMIN,
    ("POST", "/api/models/pull"): ADMIN,
    ("POST", "/api/delete_model"): ADMIN,
    ("DELETE", "/api/models/{model_id:path}"): ADMIN,
    ("GET", "/api/users"): ADMIN,
    ("POST", "/api/users"): ADMIN,
    ("PATCH", "/api/users/{username}"): ADMIN,
    ("DELETE", "/api/users/{username}"): ADMIN,
    ("GET", "/api/audit"): ADMIN,
    ("GET", "/api/audit/export"): ADMIN,
    ("GET", "/api/audit/verify"): ADMIN,
}
# Values for path parameters: records that do not exist, so an allowed call changes nothing.
PATH_VALUES = {
    "{conversation_id}": MISSING_CONVERSATION,
    "{token_id}": "999999",
    "{username}": "nobody-here",
    "{run_id}": "0" * 32,
    "{model_id:path}": "ollama:nothing-here",
}


def route_table(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, routers included; mounts (static files) aside."""
    found: set[tuple[str, str]] = set()

    def add(methods: set[str] | None, path: str) -> None:
        found.update((method, path) for method in methods or () if method != "HEAD")

    for route in app.routes:
        if hasattr(route, "effective_route_contexts"):  # an included router (FastAPI ≥ 0.120)
            for context in route.effective_route_contexts():
                add(context.methods, context.path)
        elif getattr(route, "methods", None):
            add(route.methods, route.path)  # type: ignore[attr-defined]
    return found


def concrete(path: str) -> str:
    for placeholder, value in PATH_VALUES.items():
        path = path.replace(placeholder, value)
    return path


def send(client: httpx.Client, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    body: dict[str, Any] = {"json": {}} if method in ("POST", "PATCH") else {}
    return client.request(method, concrete(path), headers=headers, follow_redirects=False, **body)


@dataclass
class Callers:
    tokens: dict[str, str]  # username → API token

    def bearer(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


@pytest.fixture(scope="module")
def arena(module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(accounts=True)



@pytest.fixture(scope="module")
def callers(arena: RunningArena) -> Callers:
    return Callers(tokens={name: api_token(arena, name) for name in ("vic", "eve", "rival", "ada")})


def test_every_route_has_an_expected_role(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(make_settings(tmp_path, embedded_enabled=False, auth_mode_setting="users"))
    served = route_table(app)
    assert served - EXPECTED.keys() == set(), "new routes: give each an expected role in EXPECTED"
    assert EXPECTED.keys() - served == set(), "EXPECTED lists routes the app no longer has"


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED), ids=lambda v: str(v))
def test_callers_without_valid_credentials_are_refused(arena: RunningArena, method: str, path: str) -> None:
    needed = EXPECTED[(method, path)]
    with arena.client() as client:
        for headers in ({}, {"Authorization": "Bearer arena_not-a-real-token"}, {"Authorization": "Basic YTpi"}):
            response = send(client, method, path, headers)
            if needed == PUBLIC:
                assert response.status_code not in (401, 403), (headers, response.text)
            elif path in PAGES:
                assert response.status_code == 303, response.text  # a browser is sent to the login page
                assert response.headers["location"].startswith("/login?next=")
            else:
                assert response.status_code == 401, (headers, response.text)
                assert response.json()["error"]


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED), ids=lambda v: str(v))
def test_each_role_gets_exactly_its_routes(arena: RunningArena, callers: Callers, method: str, path: str) -> None:
    needed = EXPECTED[(method, path)]
    with arena.client() as client:
        for username, role in ROLE_OF_USER.items():
            response = send(client, method, path, callers.bearer(username))
            allowed = needed in (PUBLIC, ANY) or RANK[role] >= RANK[needed]
            if allowed:
                assert response.status_code not in (401, 403), (username, response.text)
            else:
                assert response.status_code == 403, (username, response.text)
                assert needed in response.json()["error"]
            # 502/503 are an engine's answer (no Ollama here); 500 would be our own failure.
            assert response.status_code != 500, (username, response.text)


# --- another user's conversation ------------------------------------------------------------


@pytest.fixture(scope="module")
def eves_conversation(arena: RunningArena, callers: Callers) -> tuple[str, int, str]:
    body = {"models": [SMOL], "message": "Say hi.", "options": {"num_predict": 4, "seed": 1}}
    with (
        arena.client() as client,
        client.stream("POST", "/api/stream_chat", json=body, headers=callers.bearer("eve")) as response,
    ):
        assert response.status_code == 200
        lines = list(ndjson_lines(response))
    assert lines[-1].get("done") or lines[-1].get("status"), lines[-1]
    return lines[0]["conversation_id"], lines[0]["turn_id"], lines[0]["instances"][0]["instance_id"]


def test_another_users_conversation_is_invisible_and_untouchable(
    arena: RunningArena, callers: Callers, eves_conversation: tuple[str, int, str]
) -> None:
    conversation_id, turn_id, key = eves_conversation
    base = f"/api/conversations/{conversation_id}"
    attempts: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", base, None),
        ("PATCH", base, {"title": "hijacked"}),
        ("DELETE", base, None),
        ("GET", f"{base}/export", None),
        ("POST", f"{base}/reveal", {}),
        ("POST", f"{base}/votes", {"turn_id": turn_id, "kind": "thumb", "key": key, "value": "down"}),
        ("GET", f"{base}/shares", None),
        ("POST", f"{base}/shares", {"username": "rival"}),
        ("DELETE", f"{base}/shares/vic", None),
        ("GET", f"/api/judge?conversation_id={conversation_id}", None),
        ("POST", "/api/stream_chat", {"conversation_id": conversation_id, "message": "mine now"}),
        ("POST", "/api/chat", {"conversation_id": conversation_id, "message": "mine now"}),
        ("POST", "/api/stop", {"turn_id": turn_id, "key": key}),
        (
            "POST",
            "/api/judge",
            {"conversation_id": conversation_id, "turn_id": turn_id, "mode": "single", "judge_model": SMOL},
        ),
    ]
    with arena.client() as client:
        for who in ("rival", "ada", "vic"):  # another evaluator, even an admin, and a viewer
            for method, path, body in attempts:
                response = client.request(method, path, json=body, headers=callers.bearer(who))
                if who == "vic" and method != "GET":
                    assert response.status_code == 403, (who, method, path, response.text)
                    continue
                assert response.status_code == 404, (who, method, path, response.text)
            listed = client.get("/api/conversations", headers=callers.bearer(who)).json()["conversations"]
            assert conversation_id not in {c["id"] for c in listed}
        owner_view = client.get(base, headers=callers.bearer("eve"))
        assert owner_view.status_code == 200
        assert owner_view.json()["title"] != "hijacked"
        assert len(owner_view.json()["turns"]) == 1
        assert owner_view.json()["pairwise_votes"] == []


def test_a_shared_conversation_can_be_read_but_only_the_owner_changes_it(
    arena: RunningArena, callers: Callers, eves_conversation: tuple[str, int, str]
) -> None:
    conversation_id, turn_id, key = eves_conversation
    base = f"/api/conversations/{conversation_id}"
    with arena.client() as client:
        eve, rival, vic = (callers.bearer(n) for n in ("eve", "rival", "vic"))
        assert client.post(f"{base}/shares", json={"username": "ghost"}, headers=eve).status_code == 404
        for name in ("rival", "vic"):
            shared = client.post(f"{base}/shares", json={"username": name}, headers=eve)
            assert shared.status_code == 200, shared.text
        assert client.get(f"{base}/shares", headers=eve).json()["usernames"] == ["rival", "vic"]
        for reader in (rival, vic):
            assert client.get(base, headers=reader).status_code == 200
            assert client.get(f"{base}/export", headers=reader).status_code == 200
            assert conversation_id in {
                c["id"] for c in client.get("/api/conversations", headers=reader).json()["conversations"]
            }
        vote = {"turn_id": turn_id, "kind": "thumb", "key": key, "value": "up"}
        assert client.post(f"{base}/votes", json=vote, headers=rival).status_code == 201  # a shared evaluator votes
        assert client.post(f"{base}/votes", json=vote, headers=vic).status_code == 403  # a viewer only reads
        for method, path, body in (
            ("PATCH", base, {"title": "mine"}),
            ("DELETE", base, None),
            ("POST", f"{base}/reveal", {}),
        ):
            assert client.request(method, path, json=body, headers=rival).status_code == 404
        assert client.delete(f"{base}/shares/rival", headers=eve).status_code == 204
        assert client.get(base, headers=rival).status_code == 404  # unshared: gone for them
        assert client.get(base, headers=vic).status_code == 200
