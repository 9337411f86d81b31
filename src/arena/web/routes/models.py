"""GET /api/health and /api/models: what every engine can serve."""

from __future__ import annotations

from fastapi import APIRouter

from arena.web.auth.principal import Viewer
from arena.web.deps import ModelRouter
from arena.web.schemas import EngineStatus, HealthResponse, ModelDetail, ModelsResponse

health_router = APIRouter(prefix="/api", tags=["health"])
router = APIRouter(prefix="/api", tags=["models"], dependencies=[Viewer])


@health_router.get("/health", response_model=HealthResponse)
async def get_health(models: ModelRouter) -> HealthResponse:
    """Liveness and each engine's reachability; needs no token."""
    inventory = await models.inventory()
    engines: dict[str, list[EngineStatus]] = {}
    for health in inventory.health:
        engines.setdefault(health.engine, []).append(
            EngineStatus(endpoint=health.endpoint, reachable=health.reachable, version=health.version, detail=health.detail)
        )
    return HealthResponse(
        status="healthy", service="local-llm-arena", models_available=len(inventory.models), engines=engines
    )


@router.get("/models", response_model=ModelsResponse)
async def list_models(models: ModelRouter, refresh: bool = False) -> ModelsResponse:
    """Every model of every reachable engine, with size, family and quantization where known."""
    inventory = await models.inventory(fresh=refresh)
    return ModelsResponse(
        models=[m.id for m in inventory.models],
        details=[
            ModelDetail(
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
