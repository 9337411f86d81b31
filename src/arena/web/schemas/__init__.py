"""Request and response bodies of the API (the v3-compatible part and the arena's own)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from arena.engines.base import Message
from arena.evaluation.conversation.view import ConversationView, ResponseView, TurnView
from arena.evaluation.conversation.instances import ModelInstance
from arena.web.markdown import render_markdown

CONVERSATION_ID = r"^[0-9a-f]{32}$"
MAX_ID = 2**63 - 1  # the largest integer key SQLite and PostgreSQL store
KEY = Field(min_length=1, max_length=400, description="The instance id, or its label while the conversation is blind")
ISO_DATE_START = re.compile(r"^\s*\d{4}-\d{2}-\d{2}")


def _iso_text_only(value: Any) -> Any:
    """Pydantic would read "0" or "1.5" as a Unix timestamp; the API documents ISO 8601 text only."""
    if isinstance(value, str) and not ISO_DATE_START.match(value):
        raise ValueError("expected an ISO 8601 date-time such as 2025-01-31T12:00:00Z")
    return value


# A date-time given as text (a query parameter): ISO 8601, UTC when no zone is given.
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_text_only)]


class AttachmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=1000)
    text: str


class Regenerate(BaseModel):
    """Answer turn ``turn_id`` again for the instance ``key``: a new response, no new turn."""

    model_config = ConfigDict(extra="forbid")

    turn_id: int = Field(ge=1, le=MAX_ID)
    key: str = KEY


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
    # Each name becomes a ModelInstance later: the same bounds here make a bad one a 422, not a 500.
    models: list[Annotated[str, Field(min_length=1, max_length=300)]] | None = Field(
        None, max_length=64, description="Legacy: model names at default settings"
    )
    conversation_id: str | None = Field(None, pattern=CONVERSATION_ID)
    attachments: list[AttachmentIn] = Field(
        default_factory=list, max_length=100, description="Text files appended to the message as fenced blocks"
    )
    regenerate: Regenerate | None = Field(None, description="Answer an existing turn again, for one instance")

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


def error_responses(*codes: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: each code answers an ErrorBody; `e429="…"` describes code 429."""
    return {code: {"model": ErrorBody, **_described(descriptions.get(f"e{code}"))} for code in codes}


def _described(description: str | None) -> dict[str, str]:
    return {"description": description} if description else {}


class StopRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    turn_id: int = Field(ge=1, le=MAX_ID)
    key: str = KEY


class StopResponse(BaseModel):
    stopped: Literal[True]


# --- conversations ------------------------------------------------------------------------


class ConversationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, min_length=1, max_length=200, description="Default: the first message")
    blind: bool = Field(False, description="Hide which model is which until the reveal")
    model_instances: list[ModelInstance] = Field(max_length=64)


class ConversationSummary(BaseModel):
    id: str
    title: str
    blind: bool
    created_at: datetime
    updated_at: datetime
    revealed_at: datetime | None


class ConversationList(BaseModel):
    conversations: list[ConversationSummary]


class RenameRequest(BaseModel):
    title: str = Field(min_length=1, max_length=200)


class HiddenInstanceOut(BaseModel):
    """An instance of a blind conversation before the reveal: its label is all a client sees."""

    key: str = Field(description="The label while blind, else the instance id")
    label: str


class InstanceOut(HiddenInstanceOut):
    instance_id: str
    model: str
    temperature: float
    top_p: float
    top_k: int
    repeat_penalty: float
    num_predict: int
    seed: int


class VoteCounts(BaseModel):
    up: int
    down: int


class ResponseOut(BaseModel):
    """One answer; in a blind conversation before the reveal, named by its label alone."""

    id: int
    key: str
    label: str
    status: str
    text: str
    html: str | None = Field(description="The answer rendered from Markdown; null while it streams")
    error: str | None
    prompt_tokens: int | None
    tokens: int | None
    ttft_s: float | None
    duration_s: float | None
    tokens_per_sec: float | None
    votes: VoteCounts

    @classmethod
    def from_view(cls, r: ResponseView) -> ResponseOut:
        fields: dict[str, Any] = {
            "id": r.id,
            "key": r.key,
            "label": r.label,
            "status": r.status,
            "text": r.text,
            "html": None if r.status == "streaming" else render_markdown(r.text),
            "error": r.error,
            "prompt_tokens": r.prompt_tokens,
            "tokens": r.tokens,
            "ttft_s": r.ttft_s,
            "duration_s": r.duration_s,
            "tokens_per_sec": r.tokens_per_sec,
            "votes": VoteCounts(up=r.up, down=r.down),
        }
        if r.instance_id is None:
            return cls(**fields)
        return OpenResponseOut(**fields, instance_id=r.instance_id)


class OpenResponseOut(ResponseOut):
    """An answer whose instance may be named (an open or revealed conversation)."""

    instance_id: str


class AttachmentMeta(BaseModel):
    filename: str
    size: int


class TurnOut(BaseModel):
    id: int
    index: int
    system: str | None
    user_text: str
    attachments: list[AttachmentMeta]
    responses: list[OpenResponseOut | ResponseOut] = Field(
        description="The latest answer of each instance, in display order"
    )

    @classmethod
    def from_view(cls, t: TurnView) -> TurnOut:
        return cls(
            id=t.id,
            index=t.index,
            system=t.system,
            user_text=t.user_text,
            attachments=[AttachmentMeta(**meta) for meta in t.attachments],
            responses=[ResponseOut.from_view(r) for r in t.latest()],
        )


class PairwiseOut(BaseModel):
    turn_id: int
    value: str


class ConversationDetail(ConversationSummary):
    instances: list[InstanceOut | HiddenInstanceOut]
    turns: list[TurnOut]
    pairwise_votes: list[PairwiseOut]

    @classmethod
    def from_view(cls, view: ConversationView) -> ConversationDetail:
        return cls(
            id=view.id,
            title=view.title,
            blind=view.blind,
            revealed_at=view.revealed_at,
            created_at=view.created_at,
            updated_at=view.updated_at,
            instances=[
                InstanceOut(key=i.key, label=i.label, **i.settings)
                if i.settings
                else HiddenInstanceOut(key=i.key, label=i.label)
                for i in view.instances
            ],
            turns=[TurnOut.from_view(t) for t in view.turns],
            pairwise_votes=[PairwiseOut(turn_id=p.turn_id, value=p.value) for p in view.pairwise_votes],
        )


# --- votes and the reveal -----------------------------------------------------------------


class ThumbVote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    turn_id: int = Field(ge=1, le=MAX_ID)
    kind: Literal["thumb"]
    key: str = KEY
    value: Literal["up", "down"]


class PairwiseVote(BaseModel):
    """A against B: the first two instances in display order."""

    model_config = ConfigDict(extra="forbid")

    turn_id: int = Field(ge=1, le=MAX_ID)
    kind: Literal["pairwise"]
    value: Literal["A", "B", "tie", "both_bad"]


VoteCreate = Annotated[ThumbVote | PairwiseVote, Field(discriminator="kind")]


class VoteOut(BaseModel):
    id: int
    kind: str
    value: str


class RevealedInstance(BaseModel):
    label: str
    instance_id: str
    model: str
    temperature: float
    top_p: float
    top_k: int
    repeat_penalty: float
    num_predict: int
    seed: int
    up: int
    down: int
    pairwise_wins: int


class RevealOut(BaseModel):
    revealed_at: datetime
    mapping: list[RevealedInstance]


# --- attachments and rendering ------------------------------------------------------------


class AttachmentOut(BaseModel):
    filename: str
    size: int = Field(description="Bytes")
    text: str


class RenderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    markdown: str = Field(max_length=2_000_000)


class RenderResponse(BaseModel):
    html: str
