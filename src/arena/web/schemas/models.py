"""GET /api/health and /api/models, and the bodies of pulling and deleting a model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ModelPublic(BaseModel):
    id: str
    engine: str
    endpoint: str | None
    size: int | None
    family: str | None
    parameter_size: str | None
    quantization: str | None


class ModelList(BaseModel):
    models: list[str] = Field(
        description="Legacy (v3): each model's bare name (`llama3.2:1b`, `smollm2-135m-instruct`), usable as "
        "`model`; the full id where a bare name would mean another model"
    )
    details: list[ModelPublic] = Field(description="Every model with its full id (`ollama:llama3.2:1b`) and engine")


class EngineStatusPublic(BaseModel):
    endpoint: str
    reachable: bool
    version: str | None = None
    detail: str = ""


class HealthPublic(BaseModel):
    status: Literal["healthy", "unhealthy"] = Field(description='"unhealthy" (with 503) while the database is down')
    service: Literal["local-llm-arena"]
    models_available: int
    database: Literal["ok", "unavailable"] = "ok"
    engines: dict[str, list[EngineStatusPublic]] | None = Field(
        None, description="Each engine's endpoints and their state; only for a caller who is logged in"
    )


class ModelNameCreate(BaseModel):
    """Body of pull/delete: `model` (or the legacy `name`)."""

    model: str | None = Field(None, min_length=1, max_length=300)
    name: str | None = Field(None, min_length=1, max_length=300)

    def model_id(self) -> str | None:
        return self.model or self.name


class ModelDeletedPublic(BaseModel):
    status: Literal["deleted"]
    model: str


class PullStartedPublic(BaseModel):
    """/api/pull_model answers at once (v3); the pull goes on in the background: poll /api/models,
    or use /api/models/pull to follow its progress."""

    status: Literal["downloading"]
    model: str


class LivenessPublic(BaseModel):
    status: Literal["alive"]


class ReadinessPublic(BaseModel):
    status: Literal["ready", "not ready"]
    database: Literal["ok", "unavailable"]
