"""A client on nginx's own host (loopback, the very address the arena trusts as its proxy) cannot
choose its own address or request id: the shipped deploy/nginx/arena.conf, the edge, overwrites
X-Forwarded-For with the address it saw and X-Request-ID with its own id, so the login limits and
the audit log see the real client, and the logs' request id is nginx's."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.deploy.conftest import PROXY_ADDRESS, Deployment, deployment
from tests.deploy.test_https_proxy import login_ips
from tests.support.doubles.ollama import ollama_double

pytestmark = pytest.mark.timeout(90)

NGINX_REQUEST_ID = re.compile(r"[0-9a-f]{32}")  # nginx's $request_id


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Its own deployment: its failed logins from loopback spend no budget the team tests need."""
    with (
        ollama_double() as double,
        deployment(
            tmp_path_factory.mktemp("edge"), processes=1, trusted_proxies=PROXY_ADDRESS, double=double
        ) as running,
    ):
        yield running


def test_a_loopback_client_cannot_forge_its_address_through_nginx(edge: Deployment) -> None:
    with edge.client(source=PROXY_ADDRESS) as client:
        statuses = [
            client.post(
                "/api/auth/login",
                json={"username": "rival", "password": "wrong"},
                headers={"X-Forwarded-For": f"203.0.113.{n}"},  # a new address every time
            ).status_code
            for n in range(7)
        ]
    # Before: nginx appended 127.0.0.1, which the arena skips as its proxy, so it believed the
    # forged address: seven 401s, each from a "new" client, and the audit showed 203.0.113.n.
    assert statuses == [401] * 5 + [429] * 2, statuses  # ARENA_LOGIN_MAX_FAILURES (5), then the address waits
    assert login_ips(edge, "rival") == [PROXY_ADDRESS] * 5


def test_a_client_sent_request_id_is_replaced_by_nginx(edge: Deployment) -> None:
    forged = "chosen-by-the-client-0001"  # would be kept if it reached the arena from its proxy
    with edge.client() as client:
        answers = [client.get("/api/health/live", headers={"X-Request-ID": forged}) for _ in range(2)]
    ids = [answer.headers["x-request-id"] for answer in answers]
    assert all(answer.status_code == 200 for answer in answers)
    assert forged not in ids, ids
    assert all(NGINX_REQUEST_ID.fullmatch(request_id) for request_id in ids), ids
    assert ids[0] != ids[1]
