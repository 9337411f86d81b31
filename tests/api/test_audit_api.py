"""The audit log over HTTP, as an admin uses it: pages of entries, filters, exports that can be
checked offline, the chain check, and the export recording itself."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from sqlalchemy import text

from arena.storage import audit
from arena.storage.db import Database
from arena.web.app import create_app
from arena.web.audit_events import record_event
from tests.support.accounts import login, users_arena
from tests.support.server import make_settings

TOKEN = "audit-test-token-0123456789"


def build(tmp_path: Path, **overrides: object) -> TestClient:
    app = create_app(make_settings(tmp_path / "data", embedded_enabled=False, **overrides))

    # A route like the login's: nobody is signed in, so the actor is named explicitly.
    @app.post("/test/failed-login")
    async def failed_login(request: Request) -> dict[str, str]:
        await record_event(request, audit.LOGIN_FAILURE, actor="=mallory", reason="bad password")
        return {}

    return TestClient(app, base_url="http://127.0.0.1:7860", client=("127.0.0.1", 50123))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with build(tmp_path) as running:
        yield running


def database_of(client: TestClient) -> Database:
    return client.app.state.database  # type: ignore[attr-defined]


def seed(client: TestClient) -> None:
    database = database_of(client)
    for number in range(5):
        audit.record(database, actor_id=1, actor="alice", action=audit.VOTE, target=f"c{number}", ip="10.0.0.1")
    audit.record(database, actor_id=2, actor="root", action=audit.USER_ADD, target="bob", detail={"role": "viewer"})
    audit.record(database, actor_id=2, actor="root", action=audit.USER_ROLE, target="bob", detail={"role": "admin"})


def test_entries_come_newest_first_a_page_at_a_time(client: TestClient) -> None:
    seed(client)

    first = client.get("/api/audit", params={"limit": 4})
    assert first.status_code == 200, first.text
    page = first.json()
    assert [entry["id"] for entry in page["entries"]] == [7, 6, 5, 4]
    assert page["next_before_id"] == 4
    newest = page["entries"][0]
    assert (newest["actor"], newest["action"], newest["target"], newest["detail"]) == (
        "root",
        "user.role",
        "bob",
        {"role": "admin"},
    )
    assert newest["prev_hash"] == page["entries"][1]["hash"]

    rest = client.get("/api/audit", params={"limit": 4, "before_id": 4}).json()
    assert [entry["id"] for entry in rest["entries"]] == [3, 2, 1]
    assert rest["next_before_id"] is None


def test_filters_by_action_group_exact_action_and_actor(client: TestClient) -> None:
    seed(client)

    def ids(**params: object) -> list[int]:
        return [entry["id"] for entry in client.get("/api/audit", params=params).json()["entries"]]

    assert ids(action="user") == [7, 6]
    assert ids(action="user.add") == [6]
    assert ids(actor="alice", limit=2) == [5, 4]
    assert ids(actor="nobody") == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"before_id": 0}, "before_id"),
        ({"action": "x" * 41}, "action"),
    ],
)
def test_bad_paging_is_a_422_that_names_the_field(client: TestClient, params: dict, field: str) -> None:
    response = client.get("/api/audit", params=params)

    assert response.status_code == 422
    assert field in response.json()["error"]


def test_jsonl_export_holds_every_entry_and_each_signature_can_be_recomputed_with_the_key(
    client: TestClient, tmp_path: Path
) -> None:
    seed(client)

    response = client.get("/api/audit/export", params={"format": "jsonl"})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="arena-audit-') and disposition.endswith('.jsonl"')
    rows = [json.loads(line) for line in response.text.splitlines()]
    assert [row["id"] for row in rows] == list(range(1, 9))  # the seven, then the export itself
    assert (rows[-1]["action"], rows[-1]["actor"], rows[-1]["detail"]) == ("audit.export", "local", {"format": "jsonl"})
    secret = base64.urlsafe_b64decode((tmp_path / "data" / "audit.key").read_text().strip())
    previous = audit.GENESIS_HASH
    for row in rows:
        content = {key: value for key, value in row.items() if key != "hash"}
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert hmac.new(secret, canonical, hashlib.sha256).hexdigest() == row["hash"]
        assert hashlib.sha256(canonical).hexdigest() != row["hash"]  # a plain hash: anyone could forge it
        assert row["prev_hash"] == previous
        previous = row["hash"]


def test_csv_export_has_a_header_and_defuses_spreadsheet_formulas(client: TestClient) -> None:
    seed(client)
    # Straight into the log: routes keep no formula (see below), but an older entry may hold one.
    audit.record(database_of(client), actor_id=None, actor="=mallory", action=audit.LOGIN_FAILURE, ip="127.0.0.1")

    response = client.get("/api/audit/export", params={"format": "csv"})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["id"] for row in rows] == [str(n) for n in range(1, 10)]
    assert rows[5]["actor"] == "root" and json.loads(rows[5]["detail"]) == {"role": "viewer"}
    failed = rows[7]
    assert (failed["action"], failed["actor"], failed["ip"]) == ("login.failure", "'=mallory", "127.0.0.1")
    assert rows[8]["action"] == "audit.export"


def test_an_unknown_export_format_is_a_422_and_records_nothing(client: TestClient) -> None:
    response = client.get("/api/audit/export", params={"format": "xml"})

    assert response.status_code == 422
    assert "format" in response.json()["error"]
    assert client.get("/api/audit").json()["entries"] == []


def test_each_export_is_recorded_with_who_and_from_where(client: TestClient) -> None:
    client.get("/api/audit/export", params={"format": "csv"})
    client.get("/api/audit/export")

    entries = client.get("/api/audit", params={"action": "audit.export"}).json()["entries"]

    assert [(e["actor"], e["actor_id"], e["ip"], e["detail"]) for e in entries] == [
        ("local", None, "127.0.0.1", {"format": "jsonl"}),
        ("local", None, "127.0.0.1", {"format": "csv"}),
    ]


def test_an_explicit_actor_is_recorded_for_an_anonymous_event(client: TestClient) -> None:
    client.post("/test/failed-login")

    [entry] = client.get("/api/audit").json()["entries"]

    # "=mallory" could not be a username: a marker and a short hash stand for it.
    assert (entry["actor"], entry["actor_id"], entry["action"], entry["detail"]) == (
        f"invalid-name:{hashlib.sha256(b'=mallory').hexdigest()[:10]}",
        None,
        "login.failure",
        {"reason": "bad password"},
    )


def test_a_failed_login_keeps_the_typed_name_only_if_it_could_be_a_username(tmp_path: Path) -> None:
    forged = '=HYPERLINK("http://x")\r\nlogin.success admin'
    typed = ["nobody", "Eve", forged, "eve\n", "ｅｖｅ", "eve\u202e"]
    with users_arena(tmp_path / "users", embedded_enabled=False, rate_limit_login="off") as arena:
        with arena.client() as client:
            for name in typed:
                response = client.post("/api/auth/login", json={"username": name, "password": "wrong password"})
                assert response.status_code == 401, response.text
        with login(arena, "ada") as admin:
            entries = admin.client.get("/api/audit", params={"action": "login.failure"}).json()["entries"]

    actors = [entry["actor"] for entry in reversed(entries)]
    # Before: the raw text, control characters and all, as the actor of the entry.
    marked = [f"invalid-name:{hashlib.sha256(name.encode()).hexdigest()[:10]}" for name in typed[2:]]
    assert actors == ["nobody", "Eve", *marked]
    assert all(actor.isprintable() and actor[0] not in "=+-@" for actor in actors)


def test_verify_reports_an_intact_chain_then_names_the_edited_entry(client: TestClient) -> None:
    seed(client)

    intact = client.get("/api/audit/verify").json()
    newest = client.get("/api/audit", params={"limit": 1}).json()["entries"][0]
    assert intact["ok"] is True and intact["entries"] == 7
    assert (intact["last_id"], intact["last_hash"]) == (7, newest["hash"])
    assert intact["message"].startswith("audit log intact: 7 entries")

    with database_of(client).engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET target = 'carol' WHERE id = 6"))
    damaged = client.get("/api/audit/verify").json()

    assert (damaged["ok"], damaged["bad_id"], damaged["entries"]) == (False, 6, 5)
    assert damaged["message"] == "audit log damaged: entry 6 was edited: its content no longer matches its signature"


def test_in_token_mode_the_audit_api_needs_the_token(tmp_path: Path) -> None:
    with build(tmp_path, web_chat_token=TOKEN) as client:
        refused = [client.get(path) for path in ("/api/audit", "/api/audit/export", "/api/audit/verify")]
        allowed = client.get("/api/audit", headers={"Authorization": f"Bearer {TOKEN}"})
        page = client.get("/audit")

    assert [response.status_code for response in refused] == [401, 401, 401]
    assert all("error" in response.json() for response in refused)
    assert allowed.status_code == 200
    # The page holds no data, and a page load cannot carry a bearer token: it asks for one.
    assert page.status_code == 200 and 'data-token-required="true"' in page.text


def test_the_page_loads_its_script_and_style_from_this_server(client: TestClient) -> None:
    response = client.get("/audit")

    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert '<script type="module" src="/static/js/pages/audit.js"></script>' in response.text
    assert "<script>" not in response.text and "style=" not in response.text
    assert client.get("/static/js/pages/audit.js").status_code == 200


def test_the_api_is_documented_in_openapi(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    assert {"/api/audit", "/api/audit/export", "/api/audit/verify"} <= set(paths)
    assert "/audit" not in paths
    schema = paths["/api/audit"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/AuditPageOut")


def test_in_users_mode_only_admins_see_the_log_and_exports_name_the_account(tmp_path: Path) -> None:
    with users_arena(tmp_path / "users", embedded_enabled=False) as arena:
        with login(arena, "vic") as viewer, login(arena, "eve") as evaluator, login(arena, "ada") as admin:
            for caller in (viewer, evaluator):
                refused = caller.client.get("/api/audit")
                assert refused.status_code == 403
                assert refused.json()["error"].startswith("This needs the admin role")
                assert caller.client.get("/api/audit/export").status_code == 403
                assert caller.client.get("/audit").status_code == 403
            assert admin.client.get("/audit").status_code == 200
            assert admin.client.get("/api/audit/export", params={"format": "csv"}).status_code == 200
            entries = admin.client.get("/api/audit", params={"action": "audit.export"}).json()["entries"]
        with arena.client() as anonymous:
            page = anonymous.get("/audit", follow_redirects=False)
            api = anonymous.get("/api/audit/verify")

    [export] = entries
    assert (export["actor"], export["actor_id"] is not None, export["ip"]) == ("ada", True, "127.0.0.1")
    assert (page.status_code, page.headers["location"]) == (303, "/login?next=/audit")
    assert api.status_code == 401
