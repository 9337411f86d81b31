"""GET /metrics: Prometheus' text format, for admins only: an admin's session or API token
(users mode), the shared token (token mode), and from loopback alone with no authentication
(none mode). It tells who uses which model how much, which is not for everyone to read."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from arena.web.deps import Admin, AppSettings, CurrentPrincipal
from arena.web.middleware import is_loopback
from arena.web.observability import metrics
from arena.web.openapi import error_responses

router = APIRouter(tags=["operations"], dependencies=[Admin])


@router.get(
    "/metrics",
    response_class=Response,
    responses={**error_responses(401, 403), 200: {"content": {"text/plain": {}}}},
)
async def get_metrics(request: Request, principal: CurrentPrincipal, settings: AppSettings) -> Response:
    """Counters, gauges and histograms of this server (every worker's, in multiprocess mode)."""
    if settings.auth_mode == "none" and not is_loopback(principal.client_ip):
        raise HTTPException(status_code=403, detail="/metrics without authentication is served to loopback only")
    metrics.refresh_budget_gauges(getattr(request.app.state, "generation_budget", None))
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)
