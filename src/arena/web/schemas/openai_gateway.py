"""Request and response bodies of the OpenAI-compatible gateway (`/v1/models`, `/v1/chat/completions`).

Written from OpenAI's chat completions reference. Every field OpenAI defines is known here: those
the arena honours, those it accepts and ignores (`user`, `metadata`… say nothing about the answer)
and those it cannot honour, refused with a 400 that names the field and says why. A field OpenAI
does not define is refused too, as OpenAI does. `top_k` and `repeat_penalty` are the arena's own
extensions (as in llama.cpp's and vLLM's servers).
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from arena.evaluation.conversation.instances import ModelId
from arena.evaluation.gateway import GatewayRole

MAX_SEED: Final = 2**31 - 1
TOOLS = "the gateway does not call tools or functions: send the conversation as text"
# Fields OpenAI defines that the arena cannot honour, and why; a field is refused unless it is
# left out or holds its "off" value (null, false, an empty list, tool_choice "none", text only).
NOT_HONOURED: Final[dict[str, str]] = {
    "tools": TOOLS,
    "tool_choice": TOOLS,
    "functions": TOOLS,
    "function_call": TOOLS,
    "parallel_tool_calls": TOOLS,
    "logprobs": "log probabilities are not available from the arena's engines",
    "top_logprobs": "log probabilities are not available from the arena's engines",
    "logit_bias": "logit_bias has no equivalent among the arena's sampling settings",
    "audio": "the arena's models answer in text only",
    "modalities": "the arena's models answer in text only",
    "prediction": "predicted outputs are not supported",
    "reasoning_effort": "the arena's models take no reasoning effort",
    "verbosity": "the arena's models take no verbosity setting",
    "web_search_options": "the arena does not search the web",
    "stop": "stop sequences are not among the arena's sampling settings; use max_tokens to bound an answer",
}
OFF_VALUES: Final[tuple[Any, ...]] = (None, False, [], {})
# Values of some fields that switch nothing on: no tool called, text out, no tools to run at once.
ALSO_OFF: Final[dict[str, Any]] = {
    "tool_choice": "none",
    "function_call": "none",
    "modalities": ["text"],
    "parallel_tool_calls": True,
}
PENALTY = (
    "OpenAI's additive penalties have no equivalent among the arena's settings: send 0 or leave it out, "
    "and use repeat_penalty (1.0–2.0, the arena's multiplicative penalty on repeated tokens) instead"
)


def _text_content(value: Any) -> Any:
    """A message's content as text: a string, or a list of text parts (joined by newlines). Images,
    audio and files cannot be honoured: the arena's models read text."""
    if not isinstance(value, list):
        return value
    texts = []
    for part in value:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind != "text":
            raise ValueError(f"{kind or 'untyped'} content cannot be honoured: the arena's models read text only")
        if not isinstance(part.get("text"), str):
            raise ValueError("a text part needs its text")
        texts.append(part["text"])
    return "\n".join(texts)


class ChatMessage(BaseModel):
    """A message of the conversation. Assistant messages echoed back from an earlier answer may
    carry OpenAI's other fields (refusal, annotations…) as null: accepted."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Annotated[str | None, BeforeValidator(_text_content)] = Field(
        None, description="Text, or a list of text parts"
    )
    name: str | None = Field(None, max_length=256, description="Accepted and ignored")
    refusal: str | None = None
    annotations: list[Any] | None = None
    tool_calls: list[Any] | None = None
    tool_call_id: str | None = None
    function_call: Any | None = None
    audio: Any | None = None

    @model_validator(mode="after")
    def honourable(self) -> ChatMessage:
        if self.role in ("tool", "function") or self.tool_calls or self.function_call is not None:
            raise ValueError(f"{self.role} message with tool calls or results: {TOOLS}")
        if self.audio is not None:
            raise ValueError("audio cannot be honoured: the arena's models read text only")
        if self.content is None:
            raise ValueError(f"a {self.role} message needs its content")
        return self

    @property
    def text(self) -> str:
        return self.content or ""

    @property
    def gateway_role(self) -> GatewayRole:
        assert self.role not in ("tool", "function")  # refused above
        return self.role  # type: ignore[return-value]


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_usage: bool = Field(False, description="A last chunk, with no choices, carries the usage")
    include_obfuscation: bool | None = Field(None, description="Accepted and ignored (no padding is added)")


class JsonSchemaFormat(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    schema_: dict[str, Any] = Field(alias="schema", description="The JSON schema every answer must follow")
    strict: bool | None = None


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def schema_given(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("type json_schema needs its json_schema: {name, schema}")
        return self

    def schema(self) -> dict[str, Any] | None:
        """What the engine must follow: the schema given, any JSON object, or nothing."""
        if self.type == "json_schema":
            assert self.json_schema is not None
            return self.json_schema.schema_
        return {"type": "object"} if self.type == "json_object" else None


class ChatCompletionCreate(BaseModel):
    """POST /v1/chat/completions. Sampling fields left out keep the arena's defaults (temperature
    0.7, top_p 0.9, top_k 40, repeat_penalty 1.1, no token limit, a random seed)."""

    model_config = ConfigDict(extra="forbid")

    model: ModelId
    messages: list[ChatMessage] = Field(min_length=1, description="system/developer, user and assistant messages")
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0.0, le=2.0, description="0 is greedy decoding (top_k 1)")
    top_p: float | None = Field(None, ge=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1, le=4096, description="The arena's num_predict")
    max_completion_tokens: int | None = Field(None, ge=1, le=4096, description="The same as max_tokens")
    seed: int | None = Field(None, description=f"1–{MAX_SEED}: the same seed and settings give the same answer")
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0, description="Only 0: see repeat_penalty")
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0, description="Only 0: see repeat_penalty")
    n: int | None = Field(None, description="Only 1: one choice per request")
    response_format: ResponseFormat | None = None
    store: bool | None = Field(None, description="true stores the conversation, as X-Arena-Store: true")
    top_k: int | None = Field(None, ge=0, le=100, description="Arena extension: the k most likely tokens (0 = all)")
    repeat_penalty: float | None = Field(None, ge=1.0, le=2.0, description="Arena extension: repeated-token penalty")
    # Accepted and ignored: they say nothing about the answer.
    user: str | None = Field(None, max_length=256)
    safety_identifier: str | None = Field(None, max_length=256)
    metadata: dict[str, str] | None = None
    service_tier: str | None = Field(None, max_length=32)
    prompt_cache_key: str | None = Field(None, max_length=256)
    # Refused unless off (NOT_HONOURED says why).
    tools: Any = None
    tool_choice: Any = None
    functions: Any = None
    function_call: Any = None
    parallel_tool_calls: Any = None
    logprobs: Any = None
    top_logprobs: Any = None
    logit_bias: Any = None
    audio: Any = None
    modalities: Any = None
    prediction: Any = None
    reasoning_effort: Any = None
    verbosity: Any = None
    web_search_options: Any = None
    stop: Any = None

    @field_validator(*NOT_HONOURED, mode="after")
    @classmethod
    def not_honoured(cls, value: Any, info: ValidationInfo) -> Any:
        if any(value is off or value == off for off in OFF_VALUES) or value == ALSO_OFF.get(str(info.field_name)):
            return value
        raise ValueError(f"cannot be honoured: {NOT_HONOURED[str(info.field_name)]}")

    @field_validator("frequency_penalty", "presence_penalty", mode="after")
    @classmethod
    def no_penalty(cls, value: float | None) -> float | None:
        if value:
            raise ValueError(PENALTY)
        return value

    @field_validator("n", mode="after")
    @classmethod
    def one_choice(cls, value: int | None) -> int | None:
        if value is not None and value != 1:
            raise ValueError("the arena answers with one choice per request: send n=1 or leave it out")
        return value

    @field_validator("seed", mode="after")
    @classmethod
    def arena_seed(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= MAX_SEED:
            raise ValueError(f"the arena's seeds are 1–{MAX_SEED} (its 0 means a random seed): leave it out for one")
        return value

    @model_validator(mode="after")
    def one_token_limit(self) -> ChatCompletionCreate:
        both = (self.max_tokens, self.max_completion_tokens)
        if None not in both and both[0] != both[1]:
            raise ValueError("max_tokens and max_completion_tokens disagree: send one of them")
        if self.stream_options is not None and not self.stream:
            raise ValueError("stream_options is only for stream: true")
        return self

    @property
    def token_limit(self) -> int | None:
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


class UsagePublic(BaseModel):
    """Counted by the engine's tokenizer; an engine that does not say counts 0 prompt tokens."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessagePublic(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None


FinishReason = Literal["stop", "length"]


class ChoicePublic(BaseModel):
    index: int = 0
    message: AssistantMessagePublic
    finish_reason: FinishReason = Field(description="length: the answer reached max_tokens")
    logprobs: None = None


class ChatCompletionPublic(BaseModel):
    id: str = Field(description="chatcmpl-…, the same in every chunk of a stream")
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(description="Unix seconds")
    model: str = Field(description="The arena model id that answered")
    system_fingerprint: None = None
    choices: list[ChoicePublic]
    usage: UsagePublic


class DeltaPublic(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoicePublic(BaseModel):
    index: int = 0
    delta: DeltaPublic
    finish_reason: FinishReason | None = None
    logprobs: None = None


class ChatCompletionChunkPublic(BaseModel):
    """One `data:` line of a stream; the stream ends with `data: [DONE]`. With include_usage every
    chunk has `usage: null` and a last chunk with no choices has the usage. A failure mid-way is a
    `data: {"error": {…}}` line, then `[DONE]`."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    system_fingerprint: None = None
    choices: list[ChunkChoicePublic]
    usage: UsagePublic | None = None


class ModelPublic(BaseModel):
    id: str = Field(description="The arena model id: local:…, ollama:…, openai:<endpoint>/…")
    object: Literal["model"] = "model"
    created: int = Field(0, description="Not known to the arena: 0")
    owned_by: str = Field(description="The engine that serves it: local, ollama or openai:<endpoint>")


class ModelListPublic(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelPublic]
