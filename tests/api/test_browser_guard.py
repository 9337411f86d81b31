"""Host allow-list (DNS rebinding), cross-site refusal and safe headers, even with no auth."""

from __future__ import annotations

import httpx
import pytest

from arena.web.middleware import allowed_hosts, host_name, is_cross_site
from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena, make_settings, running_arena


@pytest.fixture(scope="module")
def arena(module_arena_factory: ArenaFactory) -> RunningArena:
    return module_arena_factory(allowed_hosts=["arena.lan"])



def port(arena: RunningArena) -> str:
    return arena.url.rsplit(":", 1)[1]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "arena.lan"])
def test_loopback_and_configured_names_are_served(arena: RunningArena, host: str) -> None:
    response = httpx.get(f"{arena.url}/api/health", headers={"Host": f"{host}:{port(arena)}"})
    assert response.status_code == 200


def test_a_rebound_dns_name_is_refused(arena: RunningArena) -> None:
    response = httpx.get(f"{arena.url}/api/models", headers={"Host": f"attacker.example:{port(arena)}"})
    assert response.status_code == 400
    assert "attacker.example" in response.json()["error"]


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port} evil", "127.0.0.1:anything", "localhost:", "127.0.0.1:99999", "user@127.0.0.1:{port}",
             "[::1]x:{port}", "[localhost]:{port}", "127.0.0.1/x"],
)  # fmt: skip
def test_a_malformed_host_header_is_refused(arena: RunningArena, host: str) -> None:
    # host_name() only split at the colon: "127.0.0.1:7921 evil" passed as 127.0.0.1.
    response = httpx.get(f"{arena.url}/api/models", headers={"Host": host.format(port=port(arena))})
    assert response.status_code == 400, response.text
    assert "is not a host name or address with an optional port" in response.json()["error"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "null"},
    ],
)
def test_another_site_cannot_make_changes(arena: RunningArena, headers: dict[str, str]) -> None:
    with arena.client() as client:
        before = len(client.get("/api/conversations").json()["conversations"])
        response = client.post("/api/conversations", json={"model_instances": [{"model": "local:smollm2-135m-instruct"}]}, headers=headers)
        assert response.status_code == 403
        assert "Cross-site" in response.json()["error"]
        assert client.post("/api/delete_model", json={"model": "ollama:x"}, headers=headers).status_code == 403
        assert len(client.get("/api/conversations").json()["conversations"]) == before


def test_same_origin_pages_and_scripts_can(arena: RunningArena) -> None:
    body = {"model_instances": [{"model": "local:smollm2-135m-instruct"}]}
    with arena.client() as client:
        same = client.post("/api/conversations", json=body, headers={"Origin": arena.url, "Sec-Fetch-Site": "same-origin"})
        script = client.post("/api/conversations", json=body)  # curl and scripts send neither header
    assert same.status_code == 201 and script.status_code == 201


def test_every_response_carries_the_safe_headers(arena: RunningArena) -> None:
    with arena.client() as client:
        for path in ("/api/health", "/", "/leaderboard", "/static/js/pages/arena.js", "/api/nope", "/docs"):
            response = client.get(path)
            policy = response.headers["content-security-policy"]
            assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "no-referrer"
            if path != "/docs":
                assert "unsafe-inline" not in policy, path


def test_pure_rules() -> None:
    assert host_name("[::1]:7860") == "::1" and host_name("Example.ORG:80") == "example.org"
    assert host_name("::1") == "::1" and host_name("localhost") == "localhost" and host_name("0.0.0.0") == "0.0.0.0"
    for malformed in ("127.0.0.1:7921 evil", "127.0.0.1:anything", "a b", "host:", "[::1", "[x]:1", "::1:zz"):
        assert host_name(malformed) == "", malformed
    # A malformed ARENA_ALLOWED_HOSTS entry names no host (so "" never becomes an allowed Host).
    assert allowed_hosts(bind="::", extra=["bad name"]) == {"localhost", "127.0.0.1", "::1"}
    # Every interface and no names: loopback names only, never "any Host".
    assert allowed_hosts(bind="0.0.0.0", extra=[]) == {"localhost", "127.0.0.1", "::1"}
    assert allowed_hosts(bind="::", extra=["box"]) == {"localhost", "127.0.0.1", "::1", "box"}
    assert allowed_hosts(bind="192.168.1.5", extra=["box"]) >= {"192.168.1.5", "box", "localhost"}
    assert not is_cross_site(method="GET", origin="http://evil.example", fetch_site="cross-site", host="x")
    assert not is_cross_site(method="POST", origin=None, fetch_site="none", host="x")
    assert is_cross_site(method="DELETE", origin="http://127.0.0.1:1", fetch_site=None, host="127.0.0.1:2")


def test_no_cross_origin_access_by_default(arena: RunningArena) -> None:
    preflight = httpx.options(
        f"{arena.url}/api/conversations",
        headers={"Origin": "http://tools.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    read = httpx.get(f"{arena.url}/api/models", headers={"Origin": "http://tools.example"})
    assert "access-control-allow-origin" not in read.headers  # the browser hides the answer


def test_listed_origins_may_call_the_api_and_others_may_not(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, embedded_enabled=False, cors_origins=["https://tools.example:8443"])
    with running_arena(settings) as running, running.client() as client:
        allowed = {"Origin": "https://tools.example:8443"}
        preflight = client.options(
            "/api/render",
            headers={**allowed, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"},
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://tools.example:8443"
        assert "access-control-allow-credentials" not in preflight.headers  # tokens, never cookies
        sent = client.post("/api/render", json={"markdown": "*x*"}, headers={**allowed, "Sec-Fetch-Site": "cross-site"})
        assert sent.status_code == 200
        assert sent.headers["access-control-allow-origin"] == "https://tools.example:8443"
        other = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
        refused = client.post("/api/render", json={"markdown": "*x*"}, headers=other)
        assert refused.status_code == 403
        assert "access-control-allow-origin" not in refused.headers
