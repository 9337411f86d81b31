"""Forwarded headers (X-Forwarded-For/-Proto/-Host) count only from ARENA_TRUSTED_PROXIES: from
anyone else they change nothing, not the address that rate limits and the audit log see, not the
scheme that decides the Secure cookie, HSTS and the Origin check, not the Host."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from arena.storage import audit
from arena.storage.db import Database
from tests.support.accounts import PASSWORD
from tests.support.fixtures import ArenaFactory
from tests.support.process import arena_process
from tests.support.server import RunningArena

PROXY = "127.0.0.1"


def login_ips(database: Database) -> list[str | None]:
    with database.session() as session:
        return [e.ip for e in audit.iter_entries(session) if e.action in (audit.LOGIN_FAILURE, audit.LOGIN_SUCCESS)]


def fail_login(client: httpx.Client, forwarded_for: str, username: str = "nobody") -> httpx.Response:
    return client.post(
        "/api/auth/login", json={"username": username, "password": "wrong"}, headers={"X-Forwarded-For": forwarded_for}
    )


def test_rotating_x_forwarded_for_from_loopback_does_not_escape_the_login_limit(tmp_path: Path) -> None:
    """The real `arena serve`, even with uvicorn told to believe every proxy (FORWARDED_ALLOW_IPS=*)."""
    env = {
        "ARENA_AUTH_MODE": "users",
        "ARENA_EMBEDDED": "false",
        "ARENA_RATE_LIMIT_LOGIN": "5/minute",
        "FORWARDED_ALLOW_IPS": "*",
    }
    with arena_process(tmp_path / "data", env=env) as (_process, url), httpx.Client(base_url=url) as client:
        statuses = [fail_login(client, f"198.51.100.{n}", username=f"user{n}").status_code for n in range(8)]
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429] * 3, statuses
    database = Database(url=f"sqlite:///{tmp_path / 'data' / 'arena.db'}")
    try:
        assert login_ips(database) == ["127.0.0.1"] * 5  # the socket's peer, not what the header claimed
    finally:
        database.dispose()


@pytest.fixture
def behind_proxy(arena_factory: ArenaFactory) -> RunningArena:
    return arena_factory(
        accounts=True,
        embedded_enabled=False,
        trusted_proxies=[PROXY],
        rate_limit_login="3/minute",
        allowed_hosts=["arena.example"],
    )


def test_a_trusted_proxy_names_the_client(behind_proxy: RunningArena) -> None:
    with behind_proxy.client() as client:
        first = [fail_login(client, "203.0.113.7", username=f"a{n}").status_code for n in range(4)]
        # Another client behind the same proxy has a budget of its own.
        other = fail_login(client, "198.51.100.1, 203.0.113.8", username="b").status_code
        # Text that is no address is ignored: the proxy itself is the caller then.
        garbage = fail_login(client, "<script>alert(1)</script>", username="c").status_code
        left_of_garbage = fail_login(client, "203.0.113.7, not-an-address, 192.0.2.44", username="d").status_code
        through_two_proxies = fail_login(client, f"192.0.2.55, {PROXY}", username="e").status_code
    assert first == [401, 401, 401, 429]
    assert (other, garbage, left_of_garbage, through_two_proxies) == (401, 401, 401, 401)
    with behind_proxy.database() as database:
        ips = login_ips(database)
    # The 429 was refused before it reached the password check, so it records nothing.
    assert ips == ["203.0.113.7"] * 3 + ["203.0.113.8", PROXY, "192.0.2.44", "192.0.2.55"]


def login(arena: RunningArena, headers: dict[str, str]) -> httpx.Response:
    with arena.client() as client:
        return client.post("/api/auth/login", json={"username": "eve", "password": PASSWORD}, headers=headers)


def test_https_at_a_trusted_proxy_gives_a_secure_cookie_and_hsts(behind_proxy: RunningArena) -> None:
    over_https = login(behind_proxy, {"X-Forwarded-Proto": "https"})
    assert over_https.status_code == 200, over_https.text
    assert "secure" in over_https.headers["set-cookie"].lower()
    assert over_https.headers["strict-transport-security"].startswith("max-age=")
    plain = login(behind_proxy, {"X-Forwarded-Proto": "http"})
    assert "secure" not in plain.headers["set-cookie"].lower()
    assert "strict-transport-security" not in plain.headers


def test_an_untrusted_peer_cannot_claim_https_or_another_host(arena_factory: ArenaFactory) -> None:
    direct = arena_factory(accounts=True, embedded_enabled=False, allowed_hosts=["arena.example"])
    claimed = login(direct, {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert claimed.status_code == 200, claimed.text
    assert "secure" not in claimed.headers["set-cookie"].lower()
    assert "strict-transport-security" not in claimed.headers
    with direct.client() as client:
        # X-Forwarded-Host from a stranger neither passes the allow-list nor gets past it.
        assert client.get("/api/health", headers={"X-Forwarded-Host": "evil.example"}).status_code == 200
        assert (
            client.get("/api/health", headers={"Host": "evil.example", "X-Forwarded-Host": "arena.example"}).status_code
            == 400
        )
        # This server speaks plain http: a page of https://its-host is another origin.
        https_page = client.post(
            "/api/render", json={"markdown": "x"}, headers={"Origin": direct.url.replace("http:", "https:")}
        )
        assert https_page.status_code == 403
    with direct.database() as database:
        assert login_ips(database) == ["127.0.0.1"]


def test_the_origin_must_match_the_scheme_too(behind_proxy: RunningArena) -> None:
    at_proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "arena.example"}
    with behind_proxy.client() as client:
        plain_page = client.post(
            "/api/render", json={"markdown": "x"}, headers={**at_proxy, "Origin": "http://arena.example"}
        )
        same_page = client.post(
            "/api/render", json={"markdown": "x"}, headers={**at_proxy, "Origin": "https://arena.example"}
        )
        stranger_host = client.get("/api/health", headers={"X-Forwarded-Host": "evil.example"})
    assert plain_page.status_code == 403 and "Cross-site" in plain_page.json()["error"]
    assert same_page.status_code == 401  # past the guard; it only lacks a login
    assert stranger_host.status_code == 400 and "evil.example" in stranger_host.json()["error"]


def test_pure_rules() -> None:
    from arena.web.middleware import forwarded_client, is_cross_site, parse_ip, trusted_networks

    networks = trusted_networks(["10.0.0.0/8", "127.0.0.1"])
    assert forwarded_client("127.0.0.1", ["6.6.6.6", "1.2.3.4", "10.1.1.1"], networks) == "1.2.3.4"
    assert forwarded_client("127.0.0.1", ["10.2.2.2", "10.1.1.1"], networks) == "10.2.2.2"
    assert forwarded_client("127.0.0.1", ["1.2.3.4", "bogus"], networks) == "127.0.0.1"
    assert forwarded_client("127.0.0.1", [], networks) == "127.0.0.1"
    assert parse_ip("[2001:DB8::1]:443") == "2001:db8::1" and parse_ip("::ffff:1.2.3.4") == "1.2.3.4"
    assert parse_ip("1.2.3.4:5678") == "1.2.3.4"
    assert all(parse_ip(bad) is None for bad in ("", "unknown", "fe80::1%evil", "1.2.3.4 x", "testclient"))
    assert is_cross_site(method="POST", origin="http://box", fetch_site=None, host="box", scheme="https")
    assert not is_cross_site(method="POST", origin="https://box:443", fetch_site=None, host="box", scheme="https")
    assert not is_cross_site(method="POST", origin="http://box", fetch_site=None, host="box:80", scheme="http")
