"""Every route × every kind of caller → the expected status, generated from the app's route table.

A new route fails `test_every_route_has_an_expected_role` until it is given a role here, so no
route can be forgotten. Roles are checked with API tokens (bearer, no CSRF needed); cookies and
CSRF are covered in test_accounts.py, ownership at the end of this file: every route that names
an object in its path is classified (`OBJECT_ROUTES`), and each is tried by the owner, another
evaluator, a viewer and an admin against an object of each kind, owned and ownerless.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from arena import accounts
from arena.evaluation.bench.plan import create_run
from arena.evaluation.bench.prompt_sets import parse_prompt_set
from arena.evaluation.bench.spec import BenchSpec
from arena.evaluation.conversation.instances import ModelInstance
from arena.storage import accounts as account_store
from arena.storage import audit
from arena.storage import judgments as judgment_store
from arena.storage.auth_models import User
from arena.storage.bench_models import BenchRun
from arena.storage.models import Conversation
from arena.web.app import create_app
from tests.support.accounts import api_token
from tests.support.builders import seed_turn
from tests.support.fixtures import ArenaFactory
from tests.support.models import SMOL
from tests.support.server import RunningArena, make_settings, ndjson_lines

PUBLIC, ANY, VIEWER, EVALUATOR, ADMIN = "public", "any account", "viewer", "evaluator", "admin"
RANK = {VIEWER: 0, EVALUATOR: 1, ADMIN: 2}
ROLE_OF_USER = {"vic": VIEWER, "eve": EVALUATOR, "ada": ADMIN}
PAGES = {"/", "/leaderboard", "/judges", "/bench", "/audit"}
MISSING_CONVERSATION = "0" * 32

EXPECTED: dict[tuple[str, str], str] = {
    ("GET", "/api/health"): PUBLIC,
    ("GET", "/api/health/live"): PUBLIC,
    ("GET", "/api/health/ready"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/api/auth/login"): PUBLIC,
    ("GET", "/auth/oidc/login"): PUBLIC,  # single sign-on (404 unless ARENA_OIDC_ISSUER is set)
    ("GET", "/auth/oidc/callback"): PUBLIC,
    ("GET", "/api/render/pygments.css"): PUBLIC,
    ("POST", "/api/auth/logout"): ANY,
    ("GET", "/api/auth/me"): ANY,
    ("GET", "/api/auth/tokens"): ANY,
    ("POST", "/api/auth/tokens"): ANY,
    ("DELETE", "/api/auth/tokens/{token_id}"): ANY,
    ("GET", "/"): VIEWER,
    ("GET", "/leaderboard"): VIEWER,
    ("GET", "/api/models"): VIEWER,
    ("GET", "/v1/models"): VIEWER,
    ("GET", "/v1/models/{model_id:path}"): VIEWER,
    # OpenAI's other endpoints: a 404 saying what is served (a 405 for a known one's other methods)
    **{(method, "/v1/{endpoint:path}"): VIEWER for method in ("GET", "POST", "PUT", "PATCH", "DELETE")},
    ("GET", "/api/leaderboard"): VIEWER,
    ("GET", "/judges"): VIEWER,
    ("GET", "/api/judges"): VIEWER,
    ("GET", "/api/leaderboard/pareto"): VIEWER,
    ("GET", "/api/leaderboard/next-pair"): VIEWER,
    ("POST", "/api/render"): VIEWER,
    ("GET", "/api/conversations"): VIEWER,
    ("GET", "/api/conversations/{conversation_id}"): VIEWER,
    ("GET", "/api/conversations/{conversation_id}/export"): VIEWER,
    ("GET", "/api/conversations/{conversation_id}/shares"): VIEWER,
    ("GET", "/api/judge"): VIEWER,
    ("GET", "/bench"): EVALUATOR,
    ("POST", "/api/chat"): EVALUATOR,
    ("POST", "/api/stream_chat"): EVALUATOR,
    ("POST", "/v1/chat/completions"): EVALUATOR,
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
    ("POST", "/api/judge/stream"): EVALUATOR,
    ("GET", "/api/judge/cloud"): EVALUATOR,
    ("GET", "/api/bench/runs"): EVALUATOR,
    ("POST", "/api/bench/runs"): EVALUATOR,
    ("GET", "/api/bench/runs/{run_id}"): EVALUATOR,
    ("POST", "/api/bench/runs/{run_id}/cancel"): EVALUATOR,
    ("POST", "/api/bench/runs/{run_id}/resume"): EVALUATOR,
    ("GET", "/api/bench/runs/{run_id}/report"): EVALUATOR,
    ("GET", "/api/bench/compare"): EVALUATOR,
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
    ("GET", "/metrics"): ADMIN,
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


def error_message(response: httpx.Response) -> str:
    """The error's text: `{"error": "…"}`, or OpenAI's `{"error": {"message": "…"}}` under /v1."""
    error = response.json()["error"]
    return error["message"] if isinstance(error, dict) else error


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
    # Hundreds of wrong tokens from one address: the guessing limit (tests/api/test_bearer_guessing.py)
    # would answer 429 here, and this test is about who may do what.
    return module_arena_factory(accounts=True, rate_limit_login="off")



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
                assert error_message(response)


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
                assert needed in error_message(response)
            # 502/503 are an engine's answer (no Ollama here); 500 would be our own failure.
            assert response.status_code != 500, (username, response.text)


# --- another user's conversation ------------------------------------------------------------


@pytest.fixture(scope="module")
def eves_conversation(arena: RunningArena, callers: Callers) -> tuple[str, int, str]:
    body = {"models": [SMOL], "message": "Say hi.", "options": {"num_predict": 4, "seed": 1}}
    with (
        arena.client() as client,
        # The arena's own format: its keys are the ones votes and stops take.
        client.stream("POST", "/api/stream_chat?format=arena", json=body, headers=callers.bearer("eve")) as response,
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
        (
            "POST",
            "/api/judge/stream",
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


def test_sharing_answers_an_unknown_name_plainly_audits_it_and_knows_the_owner_in_any_case(
    arena: RunningArena, callers: Callers, eves_conversation: tuple[str, int, str]
) -> None:
    conversation_id, _, _ = eves_conversation
    base = f"/api/conversations/{conversation_id}/shares"
    with arena.client() as client:
        eve = callers.bearer("eve")
        for name in ("eve", "EVE", "Eve"):  # one account, whatever the case
            mine = client.post(base, json={"username": name}, headers=eve)
            assert mine.status_code == 400, (name, mine.text)
            assert mine.json()["error"] == f"{name!r} owns this conversation already"
        ghost = client.post(base, json={"username": "ghost"}, headers=eve)
        assert ghost.status_code == 404 and ghost.json()["error"] == "there is no account 'ghost' to share with"
        # Unsharing tells nothing: an unknown name is answered as a name it was never shared with.
        unshared = {
            name: client.delete(f"{base}/ghost".replace("ghost", name), headers=eve) for name in ("ghost", "ada")
        }
        assert "eve" not in [n.casefold() for n in client.get(base, headers=eve).json()["usernames"]]
    for name, response in unshared.items():
        assert response.status_code == 404, response.text
        assert response.json()["error"] == f"conversation {conversation_id!r} is not shared with {name!r}"
    with arena.database() as database, database.session() as session:
        shares = audit.list_entries(session, action=audit.CONVERSATION_SHARE).entries
    assert any(e.detail == {"username": "ghost", "refused": "no such account"} and e.actor == "eve" for e in shares)


# --- every owned object × every role, generated from the route table ------------------------
#
# The ownership rule (arena.storage.ownership) stated once more, as the spec: the owner may do
# everything; an admin reads another user's benchmark and judge runs (never a conversation or a
# token); an object with no owner is the admins'; anyone else gets 404, never 403. The role a
# route needs comes first (a viewer asking to change anything gets 403).

CONVERSATION, BENCH_RUN, JUDGE_RUN, TOKEN = "conversation", "benchmark run", "judge run", "API token"
READ, OWN = "read", "own"
OK = "allowed"
ADMIN_READS = {CONVERSATION: False, BENCH_RUN: True, JUDGE_RUN: True, TOKEN: False}
CALLER_ROLES = {**ROLE_OF_USER, "rival": EVALUATOR}  # eve owns; rival is another evaluator
# Every route whose path names an object a user owns: the kind of object and the right it needs.
OBJECT_ROUTES: dict[tuple[str, str], tuple[str, str]] = {
    ("GET", "/api/conversations/{conversation_id}"): (CONVERSATION, READ),
    ("GET", "/api/conversations/{conversation_id}/export"): (CONVERSATION, READ),
    ("GET", "/api/conversations/{conversation_id}/shares"): (CONVERSATION, READ),
    ("POST", "/api/conversations/{conversation_id}/votes"): (CONVERSATION, READ),
    ("PATCH", "/api/conversations/{conversation_id}"): (CONVERSATION, OWN),
    ("POST", "/api/conversations/{conversation_id}/reveal"): (CONVERSATION, OWN),
    ("POST", "/api/conversations/{conversation_id}/shares"): (CONVERSATION, OWN),
    ("DELETE", "/api/conversations/{conversation_id}/shares/{username}"): (CONVERSATION, OWN),
    ("DELETE", "/api/conversations/{conversation_id}"): (CONVERSATION, OWN),
    ("GET", "/api/bench/runs/{run_id}"): (BENCH_RUN, READ),
    ("GET", "/api/bench/runs/{run_id}/report"): (BENCH_RUN, READ),
    ("POST", "/api/bench/runs/{run_id}/cancel"): (BENCH_RUN, OWN),
    ("POST", "/api/bench/runs/{run_id}/resume"): (BENCH_RUN, OWN),
    ("DELETE", "/api/auth/tokens/{token_id}"): (TOKEN, OWN),
}
# Routes whose path names something no user owns: accounts and models (the admins' to manage; any
# viewer may read which models there are).
NOT_OWNED = {
    ("PATCH", "/api/users/{username}"),
    ("DELETE", "/api/users/{username}"),
    ("DELETE", "/api/models/{model_id:path}"),
    ("GET", "/v1/models/{model_id:path}"),
    *((method, "/v1/{endpoint:path}") for method in ("GET", "POST", "PUT", "PATCH", "DELETE")),
}
# The lists, and which kind of object each shows.
LISTS = {CONVERSATION: "/api/conversations", BENCH_RUN: "/api/bench/runs", JUDGE_RUN: "/api/judge"}
SHARED_WITH = "sam"  # an evaluator who calls nothing: the share the share routes act on


def expected_outcome(route: tuple[str, str], need: str, kind: str, *, owner: str | None, caller: str) -> str | int:
    role, needed = CALLER_ROLES[caller], EXPECTED[route]
    if needed not in (PUBLIC, ANY) and RANK[role] < RANK[needed]:
        return 403
    if caller == owner or (owner is None and role == ADMIN):
        return OK
    if role == ADMIN and ADMIN_READS[kind] and need == READ:
        return OK
    return 404


def test_every_route_naming_an_object_is_classified(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(make_settings(tmp_path, embedded_enabled=False, auth_mode_setting="users"))
    naming = {(method, path) for method, path in route_table(app) if "{" in path}
    unclassified = naming - OBJECT_ROUTES.keys() - NOT_OWNED
    assert unclassified == set(), "routes naming an object: give each a kind and a right in OBJECT_ROUTES"
    assert (OBJECT_ROUTES.keys() | NOT_OWNED) - naming == set(), "classified routes the app no longer has"


@dataclass
class Owned:
    """One object of each kind, all with the same owner (None: ownerless, the admins')."""

    conversation_id: str
    turn_id: int
    key: str
    run_id: str
    judge_run_id: str
    turn_judge_run_id: str
    token_id: int | None


def user_id(arena: RunningArena, username: str) -> int:
    with arena.database() as database, database.session() as session:
        found = session.scalar(select(User.id).where(User.username == username))
    assert found is not None
    return found


def seed_owned(arena: RunningArena, callers: Callers, owner: str | None) -> Owned:
    owner_id = user_id(arena, owner) if owner else None
    run_ids = [uuid.uuid4().hex for _ in range(2)]
    with arena.database() as database:
        turn = seed_turn(database, models=[SMOL, "ollama:tiny:1b"])
        run_id = create_run(
            database=database,
            spec=BenchSpec(instances=[ModelInstance(model=SMOL), ModelInstance(model="ollama:tiny:1b")]),
            prompt_set=parse_prompt_set(b"Why is the sky blue?\n", filename="set.txt"),
            owner_id=owner_id,
        )
        with database.session() as session:
            session.execute(update(Conversation).where(Conversation.id == turn.conversation_id).values(owner_id=owner_id))
            account_store.share(session, conversation_id=turn.conversation_id, username=SHARED_WITH)
            session.execute(update(BenchRun).where(BenchRun.id == run_id).values(status="done"))  # nothing runs
            grade = {"judge_model": SMOL, "mode": "single", "key_a": turn.instance_ids[0], "raw_ab": "[[7]]", "score": 7.0}
            judgment_store.add_judgment(session, run_id=run_ids[0], owner_id=owner_id, **grade)
            judgment_store.add_judgment(
                session, run_id=run_ids[1], conversation_id=turn.conversation_id, turn_id=turn.turn_id, **grade
            )
    token_id = None
    if owner is not None:
        with arena.client() as client:
            made = client.post("/api/auth/tokens", json={"name": "spare"}, headers=callers.bearer(owner))
            assert made.status_code == 201, made.text
            token_id = made.json()["id"]
    return Owned(turn.conversation_id, turn.turn_id, turn.instance_ids[0], run_id, *run_ids, token_id)


def object_request(route: tuple[str, str], owned: Owned) -> tuple[str, dict[str, Any] | None]:
    method, path = route
    path = (
        path.replace("{conversation_id}", owned.conversation_id)
        .replace("{run_id}", owned.run_id)
        .replace("{token_id}", str(owned.token_id))
        .replace("{username}", SHARED_WITH)
    )
    bodies: dict[str, dict[str, Any]] = {
        "/votes": {"turn_id": owned.turn_id, "kind": "thumb", "key": owned.key, "value": "up"},
        "/shares": {"username": SHARED_WITH},
    }
    body = next((b for suffix, b in bodies.items() if path.endswith(suffix)), {"title": "renamed"})
    return path, body if method in ("POST", "PATCH") else None


@pytest.fixture(scope="module")
def bystander(arena: RunningArena) -> None:
    with arena.database() as database:
        accounts.add_user(database, username=SHARED_WITH, password="a long enough password", role="evaluator")


# Every object route against eve's object and an ownerless one (a token always has an owner).
OBJECT_CASES = [
    pytest.param(route, owner, id=f"{route}-{owner or 'ownerless'}")
    for route in sorted(OBJECT_ROUTES)
    for owner in ("eve", None)
    if owner is not None or OBJECT_ROUTES[route][0] != TOKEN
]


@pytest.mark.parametrize(("route", "owner"), OBJECT_CASES)
def test_each_role_reaches_exactly_the_objects_it_may(
    arena: RunningArena, callers: Callers, bystander: None, route: tuple[str, str], owner: str | None
) -> None:
    kind, need = OBJECT_ROUTES[route]
    owned = seed_owned(arena, callers, owner)
    path, body = object_request(route, owned)
    expected = {caller: expected_outcome(route, need, kind, owner=owner, caller=caller) for caller in CALLER_ROLES}
    # The refused first, so that an allowed delete cannot hide what a refusal would have done.
    with arena.client() as client:
        for caller in sorted(CALLER_ROLES, key=lambda name: expected[name] == OK):
            response = client.request(route[0], path, json=body, headers=callers.bearer(caller))
            got = response.status_code
            if expected[caller] == OK:
                assert got not in (401, 403, 404, 422, 500), (caller, route, owner, response.text)
            else:
                assert got == expected[caller], (caller, route, owner, response.text)
                assert response.json()["error"]


@pytest.mark.parametrize("owner", ["eve", None], ids=["eves", "ownerless"])
def test_each_list_shows_exactly_the_objects_the_caller_may_read(
    arena: RunningArena, callers: Callers, bystander: None, owner: str | None
) -> None:
    owned = seed_owned(arena, callers, owner)
    with arena.client() as client:
        for caller in CALLER_ROLES:
            headers = callers.bearer(caller)
            seen: dict[str, bool] = {}
            conversations = client.get(LISTS[CONVERSATION], params={"limit": 200}, headers=headers)
            seen[CONVERSATION] = owned.conversation_id in {c["id"] for c in conversations.json()["conversations"]}
            runs = client.get(LISTS[BENCH_RUN], params={"limit": 500}, headers=headers)
            if runs.status_code == 403:
                seen[BENCH_RUN] = False
            else:
                seen[BENCH_RUN] = owned.run_id in {run["id"] for run in runs.json()["runs"]}
            for run_id, kind in ((owned.judge_run_id, JUDGE_RUN), (owned.turn_judge_run_id, CONVERSATION)):
                verdicts = client.get(LISTS[JUDGE_RUN], params={"run_id": run_id}, headers=headers).json()["judgments"]
                assert len(verdicts) in (0, 1)
                if kind == JUDGE_RUN:
                    seen[JUDGE_RUN] = bool(verdicts)
                else:  # a judgment about a stored turn is seen exactly by those who see its conversation
                    assert bool(verdicts) == seen[CONVERSATION], (caller, owner)
            for kind, shown in seen.items():
                may = expected_outcome(("GET", LISTS[kind]), READ, kind, owner=owner, caller=caller) == OK
                assert shown == may, (caller, kind, owner)
