"""/metrics in the team deployment, as the README documents it: nginx (deploy/nginx/arena.conf)
refuses it however the path is spelt, since through the balancer each scrape would read another
process; Prometheus scrapes every arena process directly, and each one's counters only grow."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.conftest import Deployment

pytestmark = pytest.mark.timeout(120)
# What a client might try to reach /metrics through nginx with: each normalises to /metrics.
SPELLINGS = ["/metrics", "/metrics?format=text", "//metrics", "/%6Detrics", "/./metrics", "/api/../metrics"]


@pytest.fixture(scope="module")
def admin_token(team: Deployment) -> str:
    with team.log_in("ada") as (client, _):
        response = client.post("/api/auth/tokens", json={"name": "prometheus"})
        assert response.status_code == 201, response.text
        return str(response.json()["token"])


def requests_counted(text: str, *, route: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "arena_http_requests_total" and sample.labels["route"] == route
    )


@pytest.mark.parametrize("path", SPELLINGS)
def test_nginx_refuses_metrics_even_to_an_admin(team: Deployment, admin_token: str, path: str) -> None:
    with team.client() as client:
        # httpx would tidy a path like //metrics or /./metrics: send it as written.
        request = client.build_request("GET", "/", headers={"Authorization": f"Bearer {admin_token}"})
        request.url = request.url.copy_with(raw_path=path.encode())
        response = client.send(request)
    assert response.status_code == 404, (path, response.status_code, response.text[:200])
    assert "scrape each arena process directly" in response.json()["error"]
    assert "arena_http_requests_total" not in response.text


def test_metrics_with_a_trailing_slash_is_no_way_around(team: Deployment, admin_token: str) -> None:
    with team.client() as client:
        response = client.get("/metrics/", headers={"Authorization": f"Bearer {admin_token}"})
    assert "arena_http_requests_total" not in response.text
    assert response.status_code != 200


def test_the_processes_scraped_directly_count_every_request_once(team: Deployment, admin_token: str) -> None:
    """What the README's scrape configuration (one target per process) adds up to: every request
    nginx passed on, counted once, by whichever process answered it."""
    headers = {"Authorization": f"Bearer {admin_token}"}

    def live_checks() -> float:
        total = 0.0
        for url in team.upstreams:
            response = httpx.get(f"{url}/metrics", headers=headers, timeout=30)
            assert response.status_code == 200, response.text
            total += requests_counted(response.text, route="/api/health/live")
        return total

    before = live_checks()
    with team.client() as through_nginx:
        for _ in range(12):
            assert through_nginx.get("/api/health/live").status_code == 200  # spread over the processes
    assert live_checks() - before == 12
