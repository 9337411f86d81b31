"""GET /api/health (and its /live and /ready probes) and /api/models: what every engine can serve."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from arena.engines.router import Inventory, Router
from arena.web.auth.authentication import optional_principal
from arena.web.deps import ModelRouter, Viewer
from arena.web.schemas.models import (
    EngineStatePublic,
    EngineStatusPublic,
    HealthPublic,
    LivenessPublic,
    ModelList,
    ModelPublic,
    ReadinessPublic,
)

health_router = APIRouter(prefix="/api", tags=["health"])
router = APIRouter(prefix="/api", tags=["models"], dependencies=[Viewer])


# The model count comes from the engines, which may be slow or gone: past this, the last count seen.
INVENTORY_WAIT_S = 1.0


@health_router.get("/health/live", response_model=LivenessPublic)
async def get_liveness() -> LivenessPublic:
    """Liveness: the process answers. Touches nothing else, so it is fast whatever the load."""
    return LivenessPublic(status="alive")


@health_router.get(
    "/health/ready",
    response_model=ReadinessPublic,
    response_model_exclude_none=True,
    responses={503: {"model": ReadinessPublic, "description": "Not ready"}},
)
async def get_readiness(request: Request) -> ReadinessPublic | JSONResponse:
    """Readiness: the database answers, and Redis when there is one (each checked within a
    second, at once); 503 when either does not."""
    database_ok, redis_ok = await asyncio.gather(request.app.state.database_probe.ok(), _redis_ok(request))
    answer = ReadinessPublic(
        status="ready" if database_ok and redis_ok is not False else "not ready",
        database="ok" if database_ok else "unavailable",
        redis=None if redis_ok is None else "ok" if redis_ok else "unavailable",
    )
    if answer.status == "ready":
        return answer
    return JSONResponse(answer.model_dump(exclude_none=True), status_code=503)


async def _redis_ok(request: Request) -> bool | None:
    """Whether Redis answers (within a second); None when none is configured."""
    probe = request.app.state.redis_probe
    return None if probe is None else await probe.ok()


@health_router.get(
    "/health",
    response_model=HealthPublic,
    response_model_exclude_none=True,  # no `redis` without one, no `engines` for an anonymous caller
    responses={503: {"model": HealthPublic, "description": "Database (or Redis) down"}},
)
async def get_health(request: Request, models: ModelRouter) -> HealthPublic | JSONResponse:
    """v3's health check, truthful: "healthy" only while the database answers, and Redis when one
    is configured (else 503: logins and generations would be refused), and the
    number of models; needs no token. A caller who is logged in (or holds the token) also sees
    each engine's endpoint, reachability and version; anyone else does not, so an open port does
    not map the network behind it. Answers within about a second whatever the engines do."""
    database_ok, redis_ok, inventory = await asyncio.gather(
        request.app.state.database_probe.ok(), _redis_ok(request), _inventory(request, models)
    )
    healthy = database_ok and redis_ok is not False
    engines: dict[str, list[EngineStatusPublic]] | None = None
    if inventory is not None and await optional_principal(request) is not None:
        engines = {}
        for health in inventory.health:
            engines.setdefault(health.engine, []).append(
                EngineStatusPublic(
                    endpoint=health.endpoint, reachable=health.reachable, version=health.version, detail=health.detail
                )
            )
    answer = HealthPublic(
        status="healthy" if healthy else "unhealthy",
        service="local-llm-arena",
        models_available=len(inventory.models) if inventory is not None else 0,
        database="ok" if database_ok else "unavailable",
        redis=None if redis_ok is None else "ok" if redis_ok else "unavailable",
        engines=engines,
    )
    return answer if healthy else JSONResponse(answer.model_dump(exclude_none=True), status_code=503)


async def _inventory(request: Request, models: Router) -> Inventory | None:
    """The engines' inventory, or the last one seen when the engines are slow to answer (the
    survey goes on, and fills the router's cache for the next caller)."""
    survey = asyncio.ensure_future(models.inventory())
    try:
        inventory = await asyncio.wait_for(asyncio.shield(survey), INVENTORY_WAIT_S)
    except TimeoutError:
        return getattr(request.app.state, "last_inventory", None)
    request.app.state.last_inventory = inventory
    return inventory


@router.get("/models", response_model=ModelList)
async def list_models(models: ModelRouter, refresh: bool = False) -> ModelList:
    """Every model of every reachable engine once, with where it runs, size, family and
    quantization where known, and every engine endpoint's state."""
    inventory = await models.inventory(fresh=refresh)
    return ModelList(
        # v3 compares these with the names it pulls: bare names, each once.
        models=list(dict.fromkeys(models.bare_name(m.id) for m in inventory.models)),
        details=[
            ModelPublic(
                id=m.id,
                engine=m.engine,
                endpoint=m.endpoint,
                endpoints=inventory.endpoints_of(m.id),
                size=m.size,
                family=m.family,
                parameter_size=m.parameter_size,
                quantization=m.quantization,
                base_model=m.base_model,
                loaded=m.loaded,
                resident_bytes=m.resident_bytes,
            )
            for m in inventory.models
        ],
        engines=[
            EngineStatePublic(
                engine=health.engine,
                endpoint=health.endpoint,
                reachable=health.reachable,
                detail=health.detail,
                can_pull=engine.can_pull,
            )
            for engine, health in zip(models.engines, inventory.health, strict=True)
        ],
        hf_endpoint=models.hub.endpoint if models.hub else None,
    )
