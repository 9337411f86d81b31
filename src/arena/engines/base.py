"""The one Engine interface and the plain data that crosses it.

An engine author writes `list_models()` and one async generator, `stream()`. Wall-clock
timing, storage and fan-out live in the caller (`evaluation/conversation/compare.py`); the engine reports
what only it knows: the text, token counts and, when it has them, its own timings.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant"]


class SamplingOptions(BaseModel):
    """The six hyperparameters every engine understands; ranges follow the v3 API."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(0.7, ge=0.01, le=2.0, description="Sampling temperature")
    top_p: float = Field(0.9, ge=0.0, le=1.0, description="Nucleus sampling cut-off")
    top_k: int = Field(40, ge=0, le=100, description="Sample from the k most likely tokens (0 = all)")
    repeat_penalty: float = Field(1.1, ge=1.0, le=2.0, description="Penalty for repeated tokens")
    num_predict: int = Field(-1, ge=-1, le=4096, description="Most tokens to generate (-1 = no limit)")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Random seed (0 = random)")


@dataclass(frozen=True, kw_only=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True, kw_only=True)
class GenerationRequest:
    model: str  # the engine's own name for the model, without the `engine:` prefix
    messages: list[Message]
    options: SamplingOptions = field(default_factory=SamplingOptions)
    # A JSON schema the answer must follow (judges); engines map it to their own mechanism.
    json_schema: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class Usage:
    """Counts from the engine's tokenizer, not from counting words."""

    prompt_tokens: int | None
    completion_tokens: int
    # The engine's own generation time when it reports one (Ollama eval_duration,
    # llama.cpp timings); None means the caller's wall clock is all there is.
    generation_s: float | None = None
    # Time spent loading the model for this request (Ollama load_duration; embedded: the load
    # of the object it got), in the time to the first token. None: no load, or not reported.
    load_s: float | None = None
    # Time waiting for a free slot before generating (embedded slots); an answer that waited
    # ran under another load than the rest. None: the engine does not say.
    wait_s: float | None = None
    # Of prompt_tokens, how many the engine took from its prompt cache instead of processing
    # them (a warm cache makes the first token come sooner), and how long it spent processing
    # the rest. None means the engine did not say, never "none cached".
    cached_prompt_tokens: int | None = None
    prompt_s: float | None = None
    # Of prompt_tokens, how many were evaluated once for several answers that started together
    # (the embedded engine's batch: one comparison's shared prefix). None: not said.
    shared_prompt_tokens: int | None = None
    # Sampling settings the engine applied beyond the instance's own (embedded: min_p), so a
    # card can show everything that shaped the answer. None: the engine does not say.
    engine_settings: dict[str, float] | None = None


@dataclass(frozen=True, kw_only=True)
class Chunk:
    """A piece of an answer. The last chunk of a stream carries `usage`."""

    text: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class ModelInfo:
    id: str  # namespaced: local:..., ollama:..., openai:<endpoint>/...
    engine: str  # the engine's kind: "local", "ollama", "openai" or "anthropic"
    name: str  # the engine's own name
    endpoint: str | None = None
    size: int | None = None  # bytes on disk, when known
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    base_model: bool = False  # pretrained without chat tuning: it continues text, it does not chat
    # Embedded models (engines/footprint.py): in memory now, and the bytes it holds when loaded
    # (computed: weights + every slot's KV cache). None: the engine does not say.
    loaded: bool | None = None
    resident_bytes: int | None = None

    @property
    def size_bytes(self) -> int | None:
        """Bytes on disk (the `size` field), by the name the memory figures go by."""
        return self.size


@dataclass(frozen=True, kw_only=True)
class EngineHealth:
    engine: str
    endpoint: str
    reachable: bool
    detail: str = ""
    version: str | None = None


@dataclass(frozen=True, kw_only=True)
class PullProgress:
    status: str
    completed: int | None = None
    total: int | None = None
    digest: str | None = None


class Engine(ABC):
    """One engine at one endpoint. Capabilities are class attributes, as in simonw/llm."""

    kind: str = ""  # prefix of model ids
    can_pull: bool = False
    can_delete: bool = False

    def __init__(self, *, endpoint: str) -> None:
        self.endpoint = endpoint

    @abstractmethod
    async def list_models(self) -> list[ModelInfo]:
        """Every model this endpoint can serve right now."""

    @abstractmethod
    def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        """Yield the answer as it is generated; the final chunk carries `usage`.

        Raises `EngineError` subclasses only. Cancelling the consumer (closing the
        generator) must stop generation promptly.
        """

    @abstractmethod
    async def health(self) -> EngineHealth:
        """Whether the endpoint answers; never raises."""

    async def pull(self, name: str) -> AsyncIterator[PullProgress]:
        raise NotImplementedError(f"{self.kind} cannot pull models")
        yield  # pragma: no cover - makes this an async generator

    async def delete(self, name: str) -> None:
        raise NotImplementedError(f"{self.kind} cannot delete models")

    async def show(self, name: str) -> dict[str, Any]:
        raise NotImplementedError(f"{self.kind} cannot describe models")

    async def aclose(self) -> None:  # noqa: B027 - optional: engines without resources keep this
        """Release connections and native resources."""
