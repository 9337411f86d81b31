"""Anthropic's Messages API through the official ``anthropic`` SDK: a cloud judge, on opt-in only.

    POST /v1/messages (stream)    the answer as server-sent events  -> stream()
    GET  /v1/models               the models the key may use        -> list_models(), health()

The API takes the system prompt apart from the messages and needs ``max_tokens``; a JSON schema
becomes ``output_config.format``. No sampling setting is sent: the API version the SDK 2.x
speaks (2026-10-21) refuses temperature, top_p and top_k outright, so a cloud judge samples the
provider's way and only ``num_predict`` (as ``max_tokens``) carries over. Every SDK
exception is translated here into the arena's ``EngineError`` tree. The key lives only in the
SDK client: it is kept out of the repr, out of logs and out of every error message.

The SDK gets its HTTP client from us (``http_client=``), built on the SDK's own httpx with the
egress guard around its transport: requests go to the configured base URL's origin only, no
redirect is followed, and ``ANTHROPIC_BASE_URL`` and proxy variables are never read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Final

import anthropic
import httpx2  # the SDK's HTTP library (a dependency of anthropic>=2): http_client must be one of its clients
from pydantic import SecretStr

from arena.engines.base import Chunk, Engine, EngineHealth, GenerationRequest, ModelInfo, Usage
from arena.engines.egress import EgressPolicy, EgressRefused, Guard
from arena.errors import (
    EngineError,
    EngineProtocolError,
    EngineRejected,
    EngineTimeout,
    EngineUnavailable,
    ModelNotAvailable,
)

DEFAULT_BASE_URL: Final = "https://api.anthropic.com"
DEFAULT_MAX_TOKENS: Final = 1024  # the API needs a limit; -1 ("no limit") becomes this
_MESSAGE_LIMIT: Final = 300


class AnthropicEngine(Engine):
    kind = "anthropic"

    def __init__(
        self,
        *,
        api_key: str | SecretStr,
        base_url: str | None = None,
        timeout: float = 300.0,
        max_retries: int = 1,
        egress: EgressPolicy | None = None,
        key_variable: str = "ANTHROPIC_API_KEY",
    ) -> None:
        base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        super().__init__(endpoint=base_url)
        secret = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self._secret = secret
        self.key_variable = key_variable
        guard = _SDKGuardedTransport(httpx2.AsyncHTTPTransport(), EgressPolicy.for_engine(base_url, egress))
        self._client = anthropic.AsyncAnthropic(
            api_key=secret.get_secret_value(),
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            http_client=httpx2.AsyncClient(transport=guard, follow_redirects=False, trust_env=False),
        )

    def __repr__(self) -> str:
        return f"AnthropicEngine(base_url={self.endpoint!r}, api_key=set)"

    # -- the Engine interface -------------------------------------------------------------

    async def list_models(self) -> list[ModelInfo]:
        try:
            page = await self._client.models.list(limit=100)
        except anthropic.AnthropicError as exc:
            raise self._translate(exc, model=None) from exc
        return [
            ModelInfo(id=f"{self.kind}:{model.id}", engine=self.kind, name=model.id, endpoint=self.endpoint)
            for model in page.data
        ]

    async def health(self) -> EngineHealth:
        try:
            models = await self.list_models()
        except EngineError as exc:
            return EngineHealth(engine=self.kind, endpoint=self.endpoint, reachable=False, detail=str(exc))
        return EngineHealth(engine=self.kind, endpoint=self.endpoint, reachable=True, detail=f"{len(models)} models")

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        prompt_tokens: int | None = None
        completion_tokens = 0
        stop_reason: str | None = None
        finished = False
        try:
            events = await self._client.messages.create(**message_payload(request), stream=True)
            try:
                async for event in events:
                    if event.type == "message_start":
                        prompt_tokens = event.message.usage.input_tokens
                    elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                        if event.delta.text:
                            completion_tokens += 1  # replaced by the API's own count below
                            yield Chunk(text=event.delta.text)
                    elif event.type == "message_delta":
                        stop_reason = event.delta.stop_reason
                        completion_tokens = event.usage.output_tokens
                    elif event.type == "message_stop":
                        finished = True
                        break
            finally:
                await events.close()  # a consumer leaving early closes the connection
        except anthropic.AnthropicError as exc:
            raise self._translate(exc, model=request.model) from exc
        if not finished:
            raise EngineProtocolError(f"the Anthropic API at {self.endpoint} ended the answer without message_stop")
        yield Chunk(
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
            finish_reason=_FINISH_REASONS.get(stop_reason or "", stop_reason),
        )

    async def aclose(self) -> None:
        await self._client.close()

    # -- errors -----------------------------------------------------------------------------

    def _quote(self, text: str) -> str:
        text = " ".join(text.replace(self._secret.get_secret_value(), "***").split())
        return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT] + "…"

    def _translate(self, exc: anthropic.AnthropicError, *, model: str | None) -> EngineError:
        where = f"the Anthropic API at {self.endpoint}"
        refused = _egress_refusal(exc)
        if refused is not None:  # the SDK wraps what our guard raised as a connection error
            return refused
        if isinstance(exc, anthropic.APITimeoutError):
            return EngineTimeout(f"{where} did not answer in time")
        if isinstance(exc, anthropic.APIConnectionError):
            return EngineUnavailable(
                f"no connection to {where}: check the network and the endpoint in ARENA_CLOUD_JUDGES"
            )
        if not isinstance(exc, anthropic.APIStatusError):
            return EngineProtocolError(f"{where} answered something the SDK could not read: {self._quote(str(exc))}")
        said = self._quote(_api_message(exc))
        status = exc.status_code
        if isinstance(exc, anthropic.AuthenticationError | anthropic.PermissionDeniedError):
            return EngineRejected(
                f"{where} refused the API key (HTTP {status}: {said}); "
                f"give a valid cloud.api_key or set {self.key_variable}"
            )
        if isinstance(exc, anthropic.NotFoundError):
            return ModelNotAvailable(f"model '{model}' is not available at {where} (HTTP {status}: {said})")
        if isinstance(exc, anthropic.RateLimitError) or status in (503, 529):
            return EngineUnavailable(f"{where} is busy or rate-limited (HTTP {status}: {said}); try again later")
        if 400 <= status < 500:
            return EngineRejected(f"{where} refused the request (HTTP {status}: {said})")
        return EngineError(f"{where} failed (HTTP {status}: {said})")


class _SDKGuardedTransport(Guard, httpx2.AsyncBaseTransport):
    """The egress guard for the SDK's httpx."""


def _egress_refusal(exc: BaseException) -> EgressRefused | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, EgressRefused):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


_FINISH_REASONS: Final = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


def message_payload(request: GenerationRequest) -> dict[str, Any]:
    """The Messages API arguments for a request (system prompt apart, a required token limit)."""
    options = request.options
    system = "\n\n".join(m.content for m in request.messages if m.role == "system")
    payload: dict[str, Any] = {
        "model": request.model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages if m.role != "system"],
        "max_tokens": options.num_predict if options.num_predict > 0 else DEFAULT_MAX_TOKENS,
    }
    if system:
        payload["system"] = system
    if request.json_schema is not None:
        payload["output_config"] = {"format": {"type": "json_schema", "schema": request.json_schema}}
    return payload


def _api_message(exc: anthropic.APIStatusError) -> str:
    """The API's own error text: {"type": "error", "error": {"type": ..., "message": ...}}."""
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
    return exc.message
