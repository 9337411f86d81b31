"""POST /api/chat and /api/stream_chat (one turn for one or more instances), and /api/stop.

The NDJSON lines of /api/stream_chat are built in `web/streaming.py`, not here."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from arena.engines.base import Message
from arena.evaluation.conversation.instances import ModelId, ModelInstance
from arena.web.schemas.attachments import AttachmentCreate
from arena.web.schemas.common import CONVERSATION_ID, KEY, MAX_ID
from arena.web.schemas.speed import SpeedConditionsPublic


class RegenerationCreate(BaseModel):
    """Answer turn ``turn_id`` again for the instance ``key``: a new response, no new turn."""

    model_config = ConfigDict(extra="forbid")

    turn_id: int = Field(ge=1, le=MAX_ID)
    key: str = KEY


class HistoryMessageCreate(BaseModel):
    """One earlier message. Other keys are ignored: v3's page sends its own (`model`,
    `instance_id`, `metrics`) with every answer it shows, and v3's server ignored them."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=1_000_000)

    def to_message(self) -> Message:
        return Message(role=self.role, content=self.content)


class ChatCreate(BaseModel):
    """One turn for one or more model instances. Unknown top-level fields are ignored, as the
    original arena's clients send a few; unknown hyperparameters are refused (422)."""

    history: list[HistoryMessageCreate] = Field(default_factory=list, max_length=10_000)
    message: str | None = Field(None, max_length=1_000_000, description="The new user message")
    system: str | None = Field(None, max_length=100_000, description="System prompt for every instance")
    model_instances: list[ModelInstance] | None = Field(None, max_length=64)
    # Each name becomes a ModelInstance later: the same bounds here make a bad one a 422, not a 500.
    models: list[ModelId] | None = Field(
        None, max_length=64, description="Legacy: model names at default settings"
    )
    conversation_id: str | None = Field(None, pattern=CONVERSATION_ID)
    attachments: list[AttachmentCreate] = Field(
        default_factory=list, max_length=100, description="Text files appended to the message as fenced blocks"
    )
    regenerate: RegenerationCreate | None = Field(None, description="Answer an existing turn again, for one instance")

    def instances(self) -> list[ModelInstance]:
        if self.model_instances:
            return list(self.model_instances)
        # v3 named a legacy instance by its model: that name is its key in format v3.
        return [ModelInstance(model=name, id=name) for name in self.models or []]


class MetricsPublic(SpeedConditionsPublic):
    prompt_tokens: int | None
    tokens: int
    ttft_s: float | None
    duration_s: float
    tokens_per_sec: float | None
    shared_prompt_tokens: int | None = Field(
        None,
        description="Prompt tokens evaluated once for this answer and the others started with it (the embedded "
        "engine's batch); null: not said",
    )
    engine_settings: dict[str, float] | None = Field(
        None, description="Sampling settings the engine applied beyond the instance's own (embedded: min_p)"
    )


class V3MetricsPublic(MetricsPublic):
    """Every value null when withheld: a blind conversation before the reveal, without show_metrics."""

    tokens: int | None  # type: ignore[assignment]  # null: withheld
    duration_s: float | None  # type: ignore[assignment]  # null: withheld
    first_token_time: float | None = Field(description="v3's name for ttft_s: seconds to the first token")


# One instance's answer; the whole reply of /api/chat when it asked one instance (v3).
class InstanceResultPublic(BaseModel):
    model: str
    instance_id: str = Field(description="The client's own `id` (format v3), the stored id, or the blind label")
    assistant: str = Field(description="The answer (v3's name); the same text as `response`")
    response: str
    metrics: V3MetricsPublic | None
    status: Literal["ok", "error", "stopped"]
    error: str | None = Field(description="Why this instance has no full answer; null when it has one")
    conversation_id: str


# The reply of /api/chat for several instances: every instance's result, and the errors again by instance.
class MultiChatPublic(BaseModel):
    results: dict[str, InstanceResultPublic]
    errors: dict[str, str]
    conversation_id: str


class StopCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    turn_id: int = Field(ge=1, le=MAX_ID)
    key: str = KEY


class StopPublic(BaseModel):
    stopped: Literal[True]
