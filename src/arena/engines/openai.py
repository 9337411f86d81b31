"""Any OpenAI-compatible server: vLLM, llama.cpp's server, llama-cpp-python, LM Studio, OpenRouter.

One engine talks to one endpoint (`openai:<endpoint-name>/<model>`). It streams
`POST {base_url}/chat/completions` as Server-Sent Events and translates every httpx error and
every HTTP status into the arena's exception tree, with a message that says what to do.

The API key goes into the `Authorization` header and nowhere else: not into logs, error
messages or the repr.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from arena.engines.base import Chunk, Engine, EngineHealth, GenerationRequest, ModelInfo, Usage
from arena.engines.sse import SSEDecoder, SSEEvent
from arena.errors import (
    EngineError,
    EngineProtocolError,
    EngineRejected,
    EngineTimeout,
    EngineUnavailable,
    ModelNotAvailable,
)
from arena.settings import OpenAIEndpoint, openai_key_env_name

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0  # a local server that has not accepted by then is not coming
HEALTH_TIMEOUT_S = 3.0
_MESSAGE_LIMIT = 300  # characters of a server's error text quoted in our messages
_MODEL_MISSING = re.compile(
    r"model\b.*\b(does not exist|not found|not a valid model)|unknown model|model_not_found", re.I
)

SchemaStyle = Literal["json_schema", "json_object"]


@dataclass(kw_only=True)
class _StreamState:
    """What one answer's stream has told us so far, besides its text."""

    usage: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None  # llama.cpp's server adds these to its last chunk
    finish_reason: str | None = None
    content_chunks: int = 0
    done: bool = False


class OpenAIEngine(Engine):
    kind = "openai"

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        api_key: str | SecretStr | None = None,
        timeout: float = 300.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        base_url = base_url.rstrip("/")
        super().__init__(endpoint=base_url)
        self.name = name
        self.base_url = base_url
        if isinstance(api_key, SecretStr):
            api_key = api_key.get_secret_value()
        # Kept as a SecretStr so that even vars(engine) prints stars.
        self._api_key = SecretStr(api_key) if api_key else None
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT_S))
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient()
        # OpenAI's structured-output form first; llama-cpp-python only knows its own
        # `json_object` + `schema` form, which we switch to after it refuses the first.
        self._schema_style: SchemaStyle = "json_schema"

    @classmethod
    def from_endpoint(
        cls, endpoint: OpenAIEndpoint, *, timeout: float = 300.0, client: httpx.AsyncClient | None = None
    ) -> OpenAIEngine:
        return cls(
            name=endpoint.name, base_url=endpoint.base_url, api_key=endpoint.api_key, timeout=timeout, client=client
        )

    def __repr__(self) -> str:
        key = "set" if self._api_key is not None else "none"
        return f"OpenAIEngine(name={self.name!r}, base_url={self.base_url!r}, api_key={key})"

    # -- Engine interface -------------------------------------------------------------------

    async def list_models(self) -> list[ModelInfo]:
        return await self._list_models(timeout=self._timeout)

    async def health(self) -> EngineHealth:
        try:
            models = await self._list_models(timeout=httpx.Timeout(HEALTH_TIMEOUT_S))
        except EngineError as exc:
            return EngineHealth(engine=self.kind, endpoint=self.name, reachable=False, detail=str(exc))
        return EngineHealth(engine=self.kind, endpoint=self.name, reachable=True, detail=f"{len(models)} models")

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[Chunk, None]:
        if request.options.num_predict == 0:
            # Servers read max_tokens=0 as "no limit" (llama.cpp) or reject it (OpenAI);
            # the arena means "generate nothing", which needs no request at all.
            yield Chunk(usage=Usage(prompt_tokens=None, completion_tokens=0), finish_reason="length")
            return
        try:
            response = await self._open_chat(request)
            try:
                if _is_json(response):
                    for chunk in self._whole_completion(await response.aread()):
                        yield chunk
                    return
                state = _StreamState()
                decoder = SSEDecoder()
                async for raw in response.aiter_bytes():
                    for text in self._texts(decoder.feed(raw), state):
                        yield Chunk(text=text)
                    if state.done:
                        break
                else:
                    for text in self._texts(decoder.flush(), state):
                        yield Chunk(text=text)
            finally:
                # Also runs when the consumer closes us early: the server sees the
                # connection go and stops generating.
                await response.aclose()
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise self._translate(exc) from exc
        if not state.done and state.finish_reason is None:
            raise EngineProtocolError(
                f"the answer from endpoint '{self.name}' ended before the server said it was done; "
                "it may be cut short"
            )
        yield Chunk(usage=_usage(state), finish_reason=state.finish_reason)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    # -- requests ---------------------------------------------------------------------------

    def _headers(self, *, accept: str = "application/json") -> dict[str, str]:
        headers = {"Accept": accept}
        if self._api_key is not None:
            headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        return headers

    def _chat_payload(self, request: GenerationRequest) -> dict[str, Any]:
        options = request.options
        payload: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": options.temperature,
            "top_p": options.top_p,
            # Not in OpenAI's API, but llama.cpp, llama-cpp-python, LM Studio, vLLM and
            # OpenRouter read top_k (0 = off); vLLM names the penalty `repetition_penalty`.
            "top_k": options.top_k,
            "repeat_penalty": options.repeat_penalty,
            "repetition_penalty": options.repeat_penalty,
        }
        if options.num_predict != -1:
            payload["max_tokens"] = options.num_predict
        if options.seed != 0:
            payload["seed"] = options.seed
        if request.json_schema is not None:
            if self._schema_style == "json_schema":
                payload["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "verdict", "schema": request.json_schema, "strict": True},
                }
            else:
                payload["response_format"] = {"type": "json_object", "schema": request.json_schema}
        return payload

    async def _open_chat(self, request: GenerationRequest) -> httpx.Response:
        """Send the chat request; return the streaming 200 response or raise an EngineError."""
        url = f"{self.base_url}/chat/completions"
        while True:
            logger.debug("POST %s model=%s", url, request.model)
            http_request = self._client.build_request(
                "POST",
                url,
                json=self._chat_payload(request),
                headers=self._headers(accept="text/event-stream"),
                timeout=self._timeout,
            )
            response = await self._client.send(http_request, stream=True)
            if response.status_code == 200:
                return response
            try:
                body = await response.aread()
            finally:
                await response.aclose()
            if self._refused_json_schema(request, response.status_code, body):
                logger.info("endpoint %r refused response_format json_schema; retrying with json_object", self.name)
                self._schema_style = "json_object"
                continue
            raise self._status_error(response, body, model=request.model)

    def _refused_json_schema(self, request: GenerationRequest, status: int, body: bytes) -> bool:
        # llama-cpp-python answers 500 (sic) with a validation error naming response_format.
        return (
            request.json_schema is not None
            and self._schema_style == "json_schema"
            and status in (400, 422, 500)
            and b"response_format" in body
        )

    async def _list_models(self, *, timeout: httpx.Timeout) -> list[ModelInfo]:
        url = f"{self.base_url}/models"
        logger.debug("GET %s", url)
        try:
            response = await self._client.get(url, headers=self._headers(), timeout=timeout)
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise self._translate(exc) from exc
        if response.status_code == 404:
            raise EngineProtocolError(
                f"{url} answered 404 (endpoint '{self.name}'): is this an OpenAI-compatible API, "
                "and does the base URL end with /v1?"
            )
        if response.status_code != 200:
            raise self._status_error(response, response.content, model=None)
        try:
            data = response.json()["data"]
            ids = [item["id"] for item in data]
        except (ValueError, KeyError, TypeError) as exc:
            raise EngineProtocolError(
                f"{url} did not answer with an OpenAI model list (endpoint '{self.name}'): "
                "does the base URL end with /v1?"
            ) from exc
        return [
            ModelInfo(id=f"openai:{self.name}/{model_id}", engine=self.kind, name=model_id, endpoint=self.name)
            for model_id in ids
            if isinstance(model_id, str) and model_id
        ]

    # -- responses --------------------------------------------------------------------------

    def _texts(self, events: list[SSEEvent], state: _StreamState) -> Iterator[str]:
        """The text in these events, up to `[DONE]`; everything else goes into the state."""
        for event in events:
            text = self._read_event(event, state)
            if text:
                yield text
            if state.done:
                return

    def _read_event(self, event: SSEEvent, state: _StreamState) -> str:
        """Fold one SSE event into the state; return the text it carries, if any."""
        data = event.data.strip()
        if data == "[DONE]":
            state.done = True
            return ""
        if event.event == "error":
            message = _server_message(data.encode()) or "no details"
            raise EngineError(f"endpoint '{self.name}' failed mid-answer: {self._quote(message)}")
        try:
            payload = json.loads(data)
        except ValueError as exc:
            raise EngineProtocolError(
                f"endpoint '{self.name}' sent a stream event that is not JSON: {self._quote(data)}"
            ) from exc
        if not isinstance(payload, dict):
            raise EngineProtocolError(f"endpoint '{self.name}' sent a stream event that is not an object")
        error = _error_text(payload)
        if error is not None:
            raise EngineError(f"endpoint '{self.name}' failed mid-answer: {self._quote(error)}")
        if isinstance(payload.get("usage"), dict):
            state.usage = payload["usage"]
        if isinstance(payload.get("timings"), dict):
            state.timings = payload["timings"]
        choices = payload.get("choices")
        if not isinstance(choices, list) or not choices:
            return ""  # e.g. the usage-only chunk that include_usage adds at the end
        choice = choices[0]
        if not isinstance(choice, dict):
            raise EngineProtocolError(f"endpoint '{self.name}' sent a choice that is not an object")
        if isinstance(choice.get("finish_reason"), str):
            state.finish_reason = choice["finish_reason"]
        delta = choice.get("delta")
        content = delta.get("content") if isinstance(delta, dict) else None
        if not isinstance(content, str) or not content:
            return ""
        state.content_chunks += 1
        return content

    def _whole_completion(self, body: bytes) -> Iterator[Chunk]:
        """A server that ignored `stream: true` and sent one JSON answer."""
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise EngineProtocolError(f"endpoint '{self.name}' sent an answer that is not JSON") from exc
        error = _error_text(payload) if isinstance(payload, dict) else None
        if error is not None:
            raise EngineError(f"endpoint '{self.name}' failed: {self._quote(error)}")
        try:
            choice = payload["choices"][0]
            text = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise EngineProtocolError(f"endpoint '{self.name}' sent an answer without choices") from exc
        state = _StreamState(
            usage=payload.get("usage") if isinstance(payload.get("usage"), dict) else None,
            timings=payload.get("timings") if isinstance(payload.get("timings"), dict) else None,
            finish_reason=choice.get("finish_reason"),
        )
        if text:
            state.content_chunks = 1
            yield Chunk(text=text)
        yield Chunk(usage=_usage(state), finish_reason=state.finish_reason)

    # -- errors -----------------------------------------------------------------------------

    def _quote(self, text: str) -> str:
        """A server's words, shortened, on one line, and never with our key in them."""
        text = " ".join(text.split())
        if self._api_key is not None:
            text = text.replace(self._api_key.get_secret_value(), "***")
        return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT] + "…"

    def _status_error(self, response: httpx.Response, body: bytes, *, model: str | None) -> EngineError:
        status = response.status_code
        said = self._quote(_server_message(body)) or response.reason_phrase
        where = f"endpoint '{self.name}'"
        if status in (401, 403):
            key_state = "was refused" if self._api_key is not None else "is missing"
            return EngineRejected(
                f"the API key for {where} {key_state} (HTTP {status}: {said}); "
                f"set {openai_key_env_name(self.name)} to a valid key"
            )
        if status == 404 or (status in (400, 422) and _MODEL_MISSING.search(said)):
            return ModelNotAvailable(
                f"model '{model}' is not available at {where} (HTTP {status}: {said}); "
                "check the model name against the endpoint's model list"
            )
        if status == 429:
            retry = response.headers.get("retry-after")
            hint = f"; retry after {self._quote(retry)} s" if retry else "; try again later"
            return EngineUnavailable(f"{where} is rate-limited (HTTP 429: {said}){hint}")
        if status in (502, 503):
            return EngineUnavailable(f"{where} is busy or still loading (HTTP {status}: {said}); try again shortly")
        if status in (408, 504):
            return EngineTimeout(f"{where} timed out (HTTP {status}: {said})")
        if 400 <= status < 500:
            return EngineRejected(f"{where} refused the request (HTTP {status}: {said})")
        if status >= 500:
            return EngineError(f"{where} failed (HTTP {status}: {said})")
        return EngineProtocolError(f"{where} answered with unexpected HTTP {status}")

    def _translate(self, exc: Exception) -> EngineError:
        where = f"endpoint '{self.name}'"
        if isinstance(exc, httpx.ConnectTimeout):
            return EngineTimeout(f"no connection to {self.base_url} ({where}) within {self._timeout.connect} s")
        if isinstance(exc, httpx.TimeoutException):
            return EngineTimeout(
                f"{where} at {self.base_url} sent nothing for {self._timeout.read} s (REQUEST_TIMEOUT)"
            )
        if isinstance(exc, httpx.ConnectError):
            return EngineUnavailable(f"no OpenAI-compatible server at {self.base_url} ({where}): is it running?")
        if isinstance(exc, (httpx.NetworkError, httpx.RemoteProtocolError)):
            return EngineUnavailable(
                f"the connection to {where} at {self.base_url} broke off: {self._quote(str(exc) or type(exc).__name__)}"
            )
        if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
            return EngineError(f"the base URL of {where} is not a valid http(s) URL: {self._quote(str(exc))}")
        return EngineProtocolError(f"{where} at {self.base_url}: {self._quote(str(exc) or type(exc).__name__)}")


def _is_json(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json"


def _error_text(payload: dict[str, Any]) -> str | None:
    """The message of an OpenAI (`{"error": {...}}`) or vLLM (`{"object": "error"}`) error."""
    error = payload.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error)
    if isinstance(error, str) and error:
        return error
    if payload.get("object") == "error":
        return str(payload.get("message") or payload)
    return None


def _server_message(body: bytes) -> str:
    """What the server said about a failed request, whatever its error format."""
    text = body.decode("utf-8", errors="replace")
    try:
        payload = json.loads(text)
    except ValueError:
        return text
    if isinstance(payload, dict):
        found = _error_text(payload)
        if found is not None:
            return found
        detail = payload.get("detail")  # FastAPI-based servers
        if detail is not None:
            return detail if isinstance(detail, str) else json.dumps(detail)
    return text


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _usage(state: _StreamState) -> Usage:
    """Token counts, from the best source the server gave.

    1. `usage` (OpenAI, vLLM, LM Studio, llama.cpp's server with include_usage);
    2. llama.cpp's `timings` (predicted_n; prompt_n plus the cached cache_n);
    3. otherwise (llama-cpp-python sends neither) one token per content-bearing chunk, since
       these servers stream one chunk per sampled token. It can only undercount, when a
       server merges tokens (an incomplete UTF-8 character) into one chunk; the prompt
       count is then unknown.
    """
    usage = state.usage or {}
    timings = state.timings or {}
    completion = _int(usage.get("completion_tokens"))
    if completion is None:
        completion = _int(timings.get("predicted_n"))
    if completion is None:
        completion = state.content_chunks
    prompt = _int(usage.get("prompt_tokens"))
    if prompt is None and _int(timings.get("prompt_n")) is not None:
        prompt = timings["prompt_n"] + (_int(timings.get("cache_n")) or 0)
    predicted_ms = timings.get("predicted_ms")
    generation_s = (
        predicted_ms / 1000.0
        if isinstance(predicted_ms, (int, float)) and not isinstance(predicted_ms, bool) and predicted_ms >= 0
        else None
    )
    return Usage(prompt_tokens=prompt, completion_tokens=completion, generation_s=generation_s)
