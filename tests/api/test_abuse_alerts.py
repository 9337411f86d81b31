"""Alerts on abuse: the occurrence that reaches an ARENA_ALERT_* threshold raises one WARNING
with a stable event name, one count in /metrics and one audit entry the admin's /audit page
lists; further occurrences in the same window raise nothing more."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from arena.storage import audit
from arena.storage.db import Database
from arena.web.observability.alerts import LOGIN_BURST, AbuseAlerts
from tests.support.accounts import PASSWORD, api_token
from tests.support.builders import seed_turn
from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena, make_settings

pytestmark = pytest.mark.timeout(120)


def warnings_of(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "arena.abuse" and getattr(r, "event", None) == event]


def abuse_count(arena: RunningArena, token: str, event: str) -> float:
    with arena.client(headers={"Authorization": f"Bearer {token}"}) as client:
        body = client.get("/metrics").text
    samples = [sample for family in text_string_to_metric_families(body) for sample in family.samples]
    return sum(s.value for s in samples if s.name == "arena_abuse_events_total" and s.labels == {"event": event})


def audit_entries(arena: RunningArena, token: str, action: str) -> list[dict]:
    with arena.client(headers={"Authorization": f"Bearer {token}"}) as client:
        response = client.get("/api/audit", params={"action": action})
    assert response.status_code == 200, response.text
    return response.json()["entries"]


def fail_logins(arena: RunningArena, count: int, username: str = "vic") -> list[int]:
    with arena.client() as client:
        return [
            client.post("/api/auth/login", json={"username": username, "password": PASSWORD + "x"}).status_code
            for _ in range(count)
        ]


def test_a_burst_of_failed_logins_raises_one_alert_per_window(
    arena_factory: ArenaFactory, caplog: pytest.LogCaptureFixture
) -> None:
    arena = arena_factory(accounts=True, embedded_enabled=False, alert_login_failures="3/minute")
    admin = api_token(arena, "ada")
    before = abuse_count(arena, admin, "abuse.login_burst")
    with caplog.at_level(logging.WARNING, logger="arena.abuse"):
        assert fail_logins(arena, 5) == [401] * 5  # past the threshold, still under the login throttle

    warned = warnings_of(caplog, "abuse.login_burst")
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING
    assert abuse_count(arena, admin, "abuse.login_burst") == before + 1
    [entry] = audit_entries(arena, admin, "abuse")  # the /audit page's filter: the "abuse" group
    assert (entry["action"], entry["target"], entry["ip"]) == ("abuse.login_burst", "vic", "127.0.0.1")
    # The third failure tipped both counts (the account's and the address's): still one alert.
    assert entry["detail"] == {"per": ["account", "address"], "threshold": 3, "window": "1 minute"}


def test_below_the_threshold_nothing_is_raised(arena_factory: ArenaFactory) -> None:
    arena = arena_factory(accounts=True, embedded_enabled=False, alert_login_failures="3/minute")
    assert fail_logins(arena, 2) == [401, 401]
    admin = api_token(arena, "ada")
    assert audit_entries(arena, admin, "abuse") == []


def test_repeated_429s_for_one_caller_raise_one_alert(arena_factory: ArenaFactory) -> None:
    arena = arena_factory(
        accounts=True,
        embedded_enabled=False,
        rate_limit_login="3/minute",
        alert_rate_limited="2/minute",
        alert_login_failures="off",
    )
    statuses = fail_logins(arena, 6)
    assert statuses == [401, 401, 401, 429, 429, 429]

    with arena.database() as database, database.session() as session:  # the address may not log in now
        [entry] = [(e.actor, e.target, e.detail) for e in audit.list_entries(session, action="abuse").entries]
    assert (entry[0], entry[1], entry[2]["bucket"]) == ("anonymous", "ip:127.0.0.1", "login")


def test_an_audit_chain_that_fails_to_verify_raises_one_alert(arena_factory: ArenaFactory) -> None:
    arena = arena_factory(accounts=True, embedded_enabled=False)
    admin = api_token(arena, "ada")
    with arena.client(headers={"Authorization": f"Bearer {admin}"}) as client:
        assert client.get("/api/audit/verify").json()["ok"] is True
        with arena.database() as database, database.engine.begin() as connection:
            connection.execute(text("UPDATE audit_log SET target = 'mallory' WHERE id = 1"))
        for _ in range(3):
            assert client.get("/api/audit/verify").json()["ok"] is False

    [entry] = audit_entries(arena, admin, "abuse")
    assert (entry["action"], entry["actor"], entry["detail"]["bad_id"]) == ("abuse.audit_chain_broken", "ada", 1)


def test_alert_thresholds_are_checked_when_settings_load(arena_factory: ArenaFactory) -> None:
    with pytest.raises(ValueError, match="ARENA_ALERT_EXPORTS|alert_exports"):
        arena_factory(alert_exports="lots")


@pytest.mark.anyio
async def test_workers_sharing_redis_count_one_burst_together(tmp_path: Path, redis_url: str) -> None:
    settings = make_settings(tmp_path / "data", redis_url=redis_url, alert_login_failures="3/minute")
    database = Database.for_settings(settings)
    database.migrate()
    try:
        one, two = (AbuseAlerts.from_settings(settings, database) for _ in range(2))  # two workers' alerts
        per = {"account": "vic"}
        raised = [await one.note(LOGIN_BURST, per, actor="vic"), await one.note(LOGIN_BURST, per, actor="vic")]
        raised += [await two.note(LOGIN_BURST, per, actor="vic"), await one.note(LOGIN_BURST, per, actor="vic")]
        assert raised == [False, False, True, False]  # the third failure, wherever it came: once
        with database.session() as session:
            assert [e.action for e in audit.list_entries(session, action="abuse").entries] == [LOGIN_BURST]
    finally:
        database.dispose()


@pytest.mark.anyio
async def test_an_unreachable_redis_counts_an_error_and_fails_nothing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", redis_url="redis://127.0.0.1:9/0", alert_login_failures="1/minute")
    database = Database.for_settings(settings)
    database.migrate()
    try:
        before = REGISTRY.get_sample_value("arena_redis_errors_total") or 0
        assert (
            await AbuseAlerts.from_settings(settings, database).note(LOGIN_BURST, {"account": "vic"}, actor="vic")
            is False
        )
        assert REGISTRY.get_sample_value("arena_redis_errors_total") == before + 1
    finally:
        database.dispose()


def test_one_user_exporting_far_more_than_usual_raises_one_alert(arena_factory: ArenaFactory) -> None:
    arena = arena_factory(embedded_enabled=False, alert_exports="2/minute")
    with arena.database() as database:
        conversation_id = seed_turn(database, models=["ollama:llama3.2:1b"]).conversation_id
    with arena.client() as client:
        for _ in range(4):
            assert client.get(f"/api/conversations/{conversation_id}/export").status_code == 200
    with arena.database() as database, database.session() as session:
        entries = audit.list_entries(session, action="abuse").entries
    assert [(e.action, e.actor, e.target, e.detail["threshold"]) for e in entries] == [
        ("abuse.export_burst", "local", "local", 2)
    ]
