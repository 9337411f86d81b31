"""GET /api/health and /api/models, and the bodies of pulling and deleting a model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ModelPublic(BaseModel):
    id: str
    engine: str
    endpoint: str | None = Field(description="The first endpoint serving it (see `endpoints`)")
    endpoints: list[str] = Field(
        default_factory=list, description="Every endpoint serving it (several with several OLLAMA_HOST URLs)"
    )
    size: int | None
    family: str | None
    parameter_size: str | None
    quantization: str | None
    base_model: bool = Field(
        False,
        description="A base (pretrained) model without chat tuning: it continues text rather than following "
        "instructions, and is prompted with a plain question-and-answer transcript instead of a chat template",
    )
    loaded: bool | None = Field(
        None, description="Embedded models: whether it is in memory now (null: the engine does not say)"
    )
    resident_bytes: int | None = Field(
        None,
        description="Embedded models: the memory it holds when loaded, counted against ARENA_EMBEDDED_MAX_MEMORY "
        "(computed: the file's weights + the KV cache of every slot; llama.cpp's scratch buffers come on top)",
    )


class EngineStatePublic(BaseModel):
    """One engine endpoint as the model manager shows it before anything is tried."""

    engine: str
    endpoint: str
    reachable: bool
    detail: str = ""
    can_pull: bool = Field(description="Whether models can be pulled into it (Ollama)")


class ModelList(BaseModel):
    models: list[str] = Field(
        description="Legacy (v3): each model's bare name (`llama3.2:1b`, `smollm2-135m-instruct`), usable as "
        "`model`; the full id where a bare name would mean another model"
    )
    details: list[ModelPublic] = Field(
        description="Every model once, with its full id (`ollama:llama3.2:1b`), engine and the endpoints serving it"
    )
    engines: list[EngineStatePublic] = Field(default_factory=list, description="Every engine endpoint and its state")
    hf_endpoint: str | None = Field(
        None, description="Where `hf:<org>/<repo>` pulls come from (HF_ENDPOINT); null: Hugging Face pulls are off"
    )


class EngineStatusPublic(BaseModel):
    endpoint: str
    reachable: bool
    version: str | None = None
    detail: str = ""


class HealthPublic(BaseModel):
    status: Literal["healthy", "unhealthy"] = Field(
        description='"unhealthy" (with 503) while the database, or Redis when one is configured, is down'
    )
    service: Literal["local-llm-arena"]
    models_available: int
    database: Literal["ok", "unavailable"] = "ok"
    redis: Literal["ok", "unavailable"] | None = Field(
        None, description="Only with ARENA_REDIS_URL set: without it, logins and generations are refused (503)"
    )
    engines: dict[str, list[EngineStatusPublic]] | None = Field(
        None, description="Each engine's endpoints and their state; only for a caller who is logged in"
    )


class ModelNameCreate(BaseModel):
    """Body of pull/delete: `model` (or the legacy `name`)."""

    model: str | None = Field(None, min_length=1, max_length=300)
    name: str | None = Field(None, min_length=1, max_length=300)
    endpoint: str | None = Field(
        None,
        min_length=1,
        max_length=300,
        description="With several Ollama endpoints: which one (as `endpoints` in /api/models names it). "
        "Without it a pull goes to the least busy reachable one and a delete to every one that has the model",
    )

    def model_id(self) -> str | None:
        return self.model or self.name


class ModelDeletedPublic(BaseModel):
    status: Literal["deleted"]
    model: str
    endpoints: list[str] | None = Field(
        None, description="Where it was deleted (left out of v3's /api/delete_model unless it named an endpoint)"
    )


class PullStartedPublic(BaseModel):
    """/api/pull_model answers at once (v3); the pull goes on in the background: poll /api/models,
    or use /api/models/pull to follow its progress."""

    status: Literal["downloading"]
    model: str
    endpoint: str | None = Field(None, description="Where it is being pulled, when the request named an endpoint")


class LivenessPublic(BaseModel):
    status: Literal["alive"]


class ReadinessPublic(BaseModel):
    status: Literal["ready", "not ready"]
    database: Literal["ok", "unavailable"]
    redis: Literal["ok", "unavailable"] | None = Field(
        None, description="Only with ARENA_REDIS_URL set: whether the shared state answers"
    )
