"""POST /api/chat and /api/stream_chat (one turn for one or more instances), and /api/stop.

The NDJSON lines of /api/stream_chat are built in `web/streaming.py`, not here."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from arena.engines.base import Message
from arena.evaluation.conversation.instances import ModelId, ModelInstance
from arena.web.schemas.attachments import AttachmentCreate
from arena.web.schemas.common import CONVERSATION_ID, KEY, MAX_ID


class RegenerationCreate(BaseModel):
    """Answer turn ``turn_id`` again for the instance ``key``: a new response, no new turn."""

    model_config = ConfigDict(extra="forbid")

    turn_id: int = Field(ge=1, le=MAX_ID)
    key: str = KEY


class HistoryMessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

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
        return [ModelInstance(model=name) for name in self.models or []]


class MetricsPublic(BaseModel):
    prompt_tokens: int | None
    tokens: int
    ttft_s: float | None
    duration_s: float
    tokens_per_sec: float | None


# One instance's answer; the whole reply of /api/chat when it asked one instance (v3).
class InstanceResultPublic(BaseModel):
    model: str
    instance_id: str
    response: str
    metrics: MetricsPublic | None
    conversation_id: str


# The reply of /api/chat for several instances: answers and errors by instance.
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
