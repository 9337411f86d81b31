"""Request and response bodies of the v3-compatible API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from arena.engines.base import Message
from arena.evaluation.instances import ModelInstance

CONVERSATION_ID = r"^[0-9a-f]{32}$"


class HistoryMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=1_000_000)

    def to_message(self) -> Message:
        return Message(role=self.role, content=self.content)


class ChatRequest(BaseModel):
    """One turn for one or more model instances. Unknown top-level fields are ignored, as the
    original arena's clients send a few; unknown hyperparameters are refused (422)."""

    history: list[HistoryMessage] = Field(default_factory=list, max_length=10_000)
    message: str | None = Field(None, max_length=1_000_000, description="The new user message")
    system: str | None = Field(None, max_length=100_000, description="System prompt for every instance")
    model_instances: list[ModelInstance] | None = Field(None, max_length=64)
    models: list[str] | None = Field(None, max_length=64, description="Legacy: model names at default settings")
    conversation_id: str | None = Field(None, pattern=CONVERSATION_ID)

    def instances(self) -> list[ModelInstance]:
        if self.model_instances:
            return list(self.model_instances)
        return [ModelInstance(model=name) for name in self.models or []]


class MetricsOut(BaseModel):
    prompt_tokens: int | None
    tokens: int
    ttft_s: float | None
    duration_s: float
    tokens_per_sec: float | None


class InstanceResult(BaseModel):
    model: str
    instance_id: str
    response: str
    metrics: MetricsOut | None
    conversation_id: str


class MultiChatResponse(BaseModel):
    results: dict[str, InstanceResult]
    errors: dict[str, str]
    conversation_id: str


class ModelDetail(BaseModel):
    id: str
    engine: str
    endpoint: str | None
    size: int | None
    family: str | None
    parameter_size: str | None
    quantization: str | None


class ModelsResponse(BaseModel):
    models: list[str]
    details: list[ModelDetail]


class EngineStatus(BaseModel):
    endpoint: str
    reachable: bool
    version: str | None = None
    detail: str = ""


class HealthResponse(BaseModel):
    status: Literal["healthy"]
    service: Literal["local-llm-arena"]
    models_available: int
    engines: dict[str, list[EngineStatus]]


class ModelName(BaseModel):
    """Body of pull/delete: `model` (or the legacy `name`)."""

    model: str | None = Field(None, min_length=1, max_length=300)
    name: str | None = Field(None, min_length=1, max_length=300)

    def model_id(self) -> str | None:
        return self.model or self.name


class DeletedResponse(BaseModel):
    status: Literal["deleted"]
    model: str


class ErrorBody(BaseModel):
    error: str
    detail: Any | None = None
