"""The team deployment as the README sets it up: nginx (deploy/nginx/arena.conf) terminating TLS
in front of two `arena serve` processes on one database. What a user relies on there: the session
cookie never travels in clear, the browser stays on https, pages of other sites cannot make
changes, the address in the audit log is the real client's (not one it typed), answers stream
token by token, and plain http only redirects."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from arena.storage import audit
from tests.deploy.conftest import MODEL, OUTSIDE_CLIENT, PROXY_ADDRESS, Deployment, deployment
from tests.support.doubles.ollama import DEFAULT_REPLY, ollama_double
from tests.support.nginx import NginxProxy
from tests.support.server import ndjson_lines

pytestmark = pytest.mark.timeout(120)


def set_cookie(response_headers: list[str], name: str) -> dict[str, str | bool]:
    """The attributes of the Set-Cookie for `name`, lower-cased: {"secure": True, "samesite": "strict", …}."""
    [header] = [h for h in response_headers if h.startswith(f"{name}=")]
    attributes: dict[str, str | bool] = {}
    for part in header.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        attributes[key.lower()] = value.lower() if value else True
    return attributes


def login_ips(deployment_: Deployment, username: str) -> list[str | None]:
    with deployment_.database() as database, database.session() as session:
        return [
            entry.ip
            for entry in audit.iter_entries(session)
            if entry.action in (audit.LOGIN_FAILURE, audit.LOGIN_SUCCESS) and entry.actor == username
        ]


def test_login_over_https_gives_a_secure_cookie_and_hsts(team: Deployment) -> None:
    with team.log_in("eve") as (client, response):
        cookie = set_cookie(response.headers.get_list("set-cookie"), "arena_session")
        assert cookie.get("secure") is True and cookie.get("httponly") is True, cookie
        assert cookie.get("samesite") == "strict", cookie
        assert response.headers["strict-transport-security"].startswith("max-age=")
        assert response.headers["server"] == "nginx"  # no version number


def test_both_processes_serve_one_session(team: Deployment) -> None:
    """Logged in once, a user is logged in on every process: nginx spreads the requests."""
    with team.log_in("eve") as (client, _):
        served_before = upstreams_served(team)
        answers = [client.get("/api/auth/me") for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 6
    assert all(a.json()["username"] == "eve" for a in answers)
    served = upstreams_served(team) - served_before
    assert set(served) == {url.removeprefix("http://") for url in team.upstreams}, served


def upstreams_served(deployment_: Deployment) -> Counter[str]:
    lines = deployment_.proxy.access_log_path.read_text().splitlines()
    return Counter(line.split("upstream=")[1].split()[0] for line in lines if "/api/auth/me" in line)


def test_a_cross_site_post_through_nginx_is_refused_and_a_same_site_one_passes(team: Deployment) -> None:
    origin = team.proxy.https_url
    with team.log_in("eve") as (client, _):
        cross = client.post(
            "/api/render",
            json={"markdown": "*x*"},
            headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        )
        # The same page over plain http is another origin too: anyone on the path could write it.
        plain = client.post(
            "/api/render", json={"markdown": "*x*"}, headers={"Origin": origin.replace("https", "http")}
        )
        same = client.post(
            "/api/render", json={"markdown": "*x*"}, headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"}
        )
    assert cross.status_code == 403 and cross.headers["content-type"] == "application/json"
    assert "Cross-site request refused" in cross.json()["error"]
    assert "ARENA_TRUSTED_PROXIES" not in cross.json()["error"]  # the hint is for https pages seen over http
    assert plain.status_code == 403
    assert same.status_code == 200, same.text
    assert "<em>x</em>" in same.text


def test_a_client_cannot_choose_its_own_address_through_nginx(team: Deployment) -> None:
    """The audit log and the login throttle see the address nginx saw, not a typed X-Forwarded-For."""
    with team.client(source=OUTSIDE_CLIENT) as client:
        statuses = [
            client.post(
                "/api/auth/login",
                json={"username": "rival", "password": "wrong"},
                headers={"X-Forwarded-For": f"203.0.113.{n}"},  # a new address every time: no escape
            ).status_code
            for n in range(7)
        ]
    # ARENA_LOGIN_MAX_FAILURES (5) for one account from one address, then the address waits.
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429], statuses
    assert login_ips(team, "rival") == [OUTSIDE_CLIENT] * 5
    # Nginx's own forwarded address is believed: the client is recorded, not the proxy.
    assert PROXY_ADDRESS not in login_ips(team, "rival")


@pytest.mark.timeout(60)
def test_a_streamed_comparison_arrives_token_by_token(team: Deployment) -> None:
    team.double.reply = [f" w{i}" for i in range(12)]
    team.double.token_delay = 0.15
    arrivals: list[float] = []
    ends = []
    body = {"message": "Count.", "model_instances": [{"model": MODEL}, {"model": "ollama:qwen2.5:0.5b"}]}
    try:
        with team.log_in("eve") as (client, _), client.stream("POST", "/api/stream_chat", json=body) as response:
            assert response.status_code == 200
            for event in ndjson_lines(response):
                if event.get("token"):
                    arrivals.append(time.monotonic())
                if event.get("done"):
                    ends.append(event)
    finally:
        team.double.reply, team.double.token_delay = list(DEFAULT_REPLY), 0.0
    assert len(ends) == 2 and all("error" not in end for end in ends), ends
    assert len(arrivals) == 24
    # 12 tokens 0.15 s apart take 1.65 s: buffered, they would all arrive together at the end.
    assert arrivals[-1] - arrivals[0] > 1.2, arrivals
    assert arrivals[len(arrivals) // 2] - arrivals[0] > 0.5, arrivals


def test_plain_http_redirects_to_https(team: Deployment) -> None:
    with team.client(base_url=team.proxy.http_url) as client:
        page = client.get("/login?next=/leaderboard")
        login = client.post("/api/auth/login", json={"username": "eve", "password": "x"})
        forged = client.get("/login", headers={"Host": "evil.example"})
    https_port = team.proxy.https_port
    assert page.status_code == 301
    # To the configured name (ARENA_SERVER_NAME), never to whatever Host a client sent.
    assert page.headers["location"] == f"https://localhost:{https_port}/login?next=/leaderboard"
    assert forged.headers["location"] == f"https://localhost:{https_port}/login"
    assert login.status_code == 301  # the password is never passed on over http
    assert "set-cookie" not in login.headers


def test_what_nginx_refuses_itself_is_json(team: Deployment, tmp_path: Path) -> None:
    """A body over the limit, or no arena process answering: the page still gets an `error` to show."""
    with team.log_in("eve") as (client, _):
        too_large = client.post("/api/chat", content=b"x" * (16 * 1024 * 1024 + 1))
    assert too_large.status_code == 413
    assert too_large.json() == {"error": "Request body too large: the limit is 16777216 bytes"}
    # nginx's own answer: the body never reached a process (logged once nginx has read it to the end).
    assert " 413 upstream=- " in access_log_line(team, '"POST /api/chat ')
    with NginxProxy(upstreams=["127.0.0.1:9"], directory=tmp_path / "nginx") as nobody_home:  # a closed port
        with httpx.Client(verify=nobody_home.ssl_context()) as client:
            down = client.get(f"{nobody_home.https_url}/api/health")
    assert down.status_code == 502 and down.headers["retry-after"] == "5"
    assert "not reachable right now" in down.json()["error"]


def access_log_line(deployment_: Deployment, text: str, timeout_s: float = 5) -> str:
    deadline = time.monotonic() + timeout_s
    while not (found := [line for line in deployment_.proxy.access_log_path.read_text().splitlines() if text in line]):
        assert time.monotonic() < deadline, f"nginx logged no {text!r}"
        time.sleep(0.05)
    [line] = found
    return line


@pytest.fixture
def untrusting(tmp_path: Path) -> Iterator[Deployment]:
    """nginx in front of a process that was not told to believe it (ARENA_TRUSTED_PROXIES unset)."""
    with ollama_double() as double, deployment(tmp_path, processes=1, trusted_proxies=None, double=double) as running:
        yield running


def test_without_trusted_proxies_the_arena_ignores_what_nginx_forwards(untrusting: Deployment) -> None:
    """What the admin who forgot ARENA_TRUSTED_PROXIES sees: a script logs in, but the cookie is
    not Secure (the arena thinks the request came over http), no HSTS, and every request seems to
    come from nginx; a browser's login is refused as cross-site, with a hint at the setting."""
    with untrusting.log_in("eve", source=OUTSIDE_CLIENT) as (client, response):
        browser_like = client.post(
            "/api/auth/login",
            json={"username": "eve", "password": "wrong"},
            headers={"Origin": untrusting.proxy.https_url, "Sec-Fetch-Site": "same-origin"},
        )
    cookie = set_cookie(response.headers.get_list("set-cookie"), "arena_session")
    assert "secure" not in cookie, cookie
    assert "strict-transport-security" not in response.headers
    assert login_ips(untrusting, "eve") == [PROXY_ADDRESS]  # not the client at OUTSIDE_CLIENT
    assert browser_like.status_code == 403
    assert "ARENA_TRUSTED_PROXIES" in browser_like.json()["error"]
