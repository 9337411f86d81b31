"""GET /api/health and /api/models: what every engine can serve."""

from __future__ import annotations

from fastapi import APIRouter, Request

from arena.web.auth.authentication import optional_principal
from arena.web.deps import ModelRouter, Viewer
from arena.web.schemas.models import EngineStatePublic, EngineStatusPublic, HealthPublic, ModelList, ModelPublic

health_router = APIRouter(prefix="/api", tags=["health"])
router = APIRouter(prefix="/api", tags=["models"], dependencies=[Viewer])


@health_router.get("/health", response_model=HealthPublic)
async def get_health(request: Request, models: ModelRouter) -> HealthPublic:
    """Liveness and the number of models; needs no token. A caller who is logged in (or holds
    the token) also sees each engine's endpoint, reachability and version; anyone else does not,
    so an open port does not map the network behind it."""
    inventory = await models.inventory()
    engines: dict[str, list[EngineStatusPublic]] | None = None
    if await optional_principal(request) is not None:
        engines = {}
        for health in inventory.health:
            engines.setdefault(health.engine, []).append(
                EngineStatusPublic(
                    endpoint=health.endpoint, reachable=health.reachable, version=health.version, detail=health.detail
                )
            )
    return HealthPublic(
        status="healthy", service="local-llm-arena", models_available=len(inventory.models), engines=engines
    )


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
    )
