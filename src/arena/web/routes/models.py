"""GET /api/health and /api/models: what every engine can serve."""

from __future__ import annotations

from fastapi import APIRouter

from arena.web.deps import ModelRouter, Viewer
from arena.web.schemas.models import EngineStatusPublic, HealthPublic, ModelList, ModelPublic

health_router = APIRouter(prefix="/api", tags=["health"])
router = APIRouter(prefix="/api", tags=["models"], dependencies=[Viewer])


@health_router.get("/health", response_model=HealthPublic)
async def get_health(models: ModelRouter) -> HealthPublic:
    """Liveness and each engine's reachability; needs no token."""
    inventory = await models.inventory()
    engines: dict[str, list[EngineStatusPublic]] = {}
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
    """Every model of every reachable engine, with size, family and quantization where known."""
    inventory = await models.inventory(fresh=refresh)
    return ModelList(
        models=[m.id for m in inventory.models],
        details=[
            ModelPublic(
                id=m.id,
                engine=m.engine,
                endpoint=m.endpoint,
                size=m.size,
                family=m.family,
                parameter_size=m.parameter_size,
                quantization=m.quantization,
            )
            for m in inventory.models
        ],
    )
