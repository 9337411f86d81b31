"""Any OpenAI-compatible server: vLLM, llama.cpp's server, llama-cpp-python, LM Studio, OpenRouter.

One engine talks to one endpoint (`openai:<endpoint-name>/<model>`). It streams
`POST {base_url}/chat/completions` as Server-Sent Events and translates every httpx error and
every HTTP status into the arena's exception tree (through the tables below and
``http_errors.py``), with a message that says what to do. The request body is built in
``openai_payload.py``, the answer read in ``openai_stream.py``, the model list in ``openai_models.py``.

The API key goes into the `Authorization` header and nowhere else: not into logs, error
messages or the repr.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

import httpx
from pydantic import SecretStr

from arena.endpoints import OpenAIEndpoint, openai_key_env_name
from arena.engines.base import Chunk, Engine, EngineHealth, GenerationRequest, ModelInfo, Usage
from arena.engines.egress import EgressPolicy
from arena.engines.http_errors import (
    CLIENT_ERRORS,
    SERVER_ERRORS,
    Failure,
    Reply,
    StatusReply,
    status_error,
    translating,
)
from arena.engines.openai_models import model_list, not_an_openai_api
from arena.engines.openai_payload import SchemaStyle, chat_payload, refused_json_schema
from arena.engines.openai_stream import ChatStreamReader, StreamState, server_message, usage
from arena.engines.sse import SSEDecoder
from arena.errors import (
    EngineError,
    EngineProtocolError,
    EngineRejected,
    EngineTimeout,
    EngineUnavailable,
    ModelNotAvailable,
)

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0  # a local server that has not accepted by then is not coming
HEALTH_TIMEOUT_S = 3.0
_MESSAGE_LIMIT = 300  # characters of a server's error text quoted in our messages
_MODEL_MISSING = re.compile(
    r"model\b.*\b(does not exist|not found|not a valid model)|unknown model|model_not_found", re.IGNORECASE
)

# Fields: where ("endpoint 'name'"), url (the base URL), connect and read (timeouts in s).
_OTHER_FAILURE: Final = Reply(EngineProtocolError, "{where} at {url}: {detail}")
_TRANSPORT_REPLIES: Final[Mapping[Failure, Reply]] = {
    Failure.CONNECT_TIMEOUT: Reply(EngineTimeout, "no connection to {url} ({where}) within {connect} s"),
    Failure.TIMEOUT: Reply(EngineTimeout, "{where} at {url} sent nothing for {read} s (REQUEST_TIMEOUT)"),
    Failure.NO_SERVER: Reply(EngineUnavailable, "no OpenAI-compatible server at {url} ({where}): is it running?"),
    Failure.BROKEN: Reply(EngineUnavailable, "the connection to {where} at {url} broke off: {detail}"),
    Failure.UNDECODABLE: _OTHER_FAILURE,
    Failure.BAD_URL: Reply(EngineError, "the base URL of {where} is not a valid http(s) URL: {error}"),
    Failure.MISUSED_STREAM: _OTHER_FAILURE,
    Failure.OTHER: _OTHER_FAILURE,
}

# Fields: where, said (the server's words), model, key_state, key_variable, retry (a hint).
_MODEL_NOT_AVAILABLE: Final = (
    "model '{model}' is not available at {where} (HTTP {status}: {said}); "
    "check the model name against the endpoint's model list"
)
_STATUS_REPLIES: Final = (
    StatusReply(
        EngineRejected,
        "the API key for {where} {key_state} (HTTP {status}: {said}); set {key_variable} to a valid key",
        statuses=(401, 403),
    ),
    StatusReply(ModelNotAvailable, _MODEL_NOT_AVAILABLE, statuses=(404,)),
    StatusReply(ModelNotAvailable, _MODEL_NOT_AVAILABLE, statuses=(400, 422), model_missing=True),
    StatusReply(EngineUnavailable, "{where} is rate-limited (HTTP 429: {said}){retry}", statuses=(429,)),
    StatusReply(
        EngineUnavailable,
        "{where} is busy or still loading (HTTP {status}: {said}); try again shortly",
        statuses=(502, 503),
    ),
    StatusReply(EngineTimeout, "{where} timed out (HTTP {status}: {said})", statuses=(408, 504)),
    StatusReply(EngineRejected, "{where} refused the request (HTTP {status}: {said})", statuses=CLIENT_ERRORS),
    StatusReply(EngineError, "{where} failed (HTTP {status}: {said})", statuses=SERVER_ERRORS),
    StatusReply(EngineProtocolError, "{where} answered with unexpected HTTP {status}"),
)


class OpenAIEngine(Engine):
    """One OpenAI-compatible endpoint.

    A hosted API used for one request (a cloud judge) passes ``standard_fields_only`` (it
    refuses llama.cpp's extra sampling fields) and ``key_variable``: the key then came with the
    request or from that variable, which is what a refused key's message names.
    """

    kind = "openai"

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        api_key: str | SecretStr | None = None,
        timeout: float = 300.0,
        client: httpx.AsyncClient | None = None,
        egress: EgressPolicy | None = None,
        standard_fields_only: bool = False,
        key_variable: str | None = None,
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
        if client is None:  # ours, guarded by the policy (alone: just this endpoint), narrowed to this origin
            client = EgressPolicy.for_engine(base_url, egress).client()
        self._client = client
        # OpenAI's structured-output form first; llama-cpp-python only knows its own
        # `json_object` + `schema` form, which we switch to after it refuses the first.
        self._schema_style: SchemaStyle = "json_schema"
        self._reader = ChatStreamReader(name=name, quote=self._quote)
        self._standard_fields_only = standard_fields_only
        self.key_variable = key_variable

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
        state = StreamState()
        with self._translating_errors():
            response = await self._open_chat(request)
            try:
                if _is_json(response):
                    for chunk in self._reader.whole_completion(await response.aread()):
                        yield chunk
                    return
                decoder = SSEDecoder()
                async for raw in response.aiter_bytes():
                    for text in self._reader.texts(decoder.feed(raw), state):
                        yield Chunk(text=text)
                    if state.done:
                        break
                else:
                    for text in self._reader.texts(decoder.flush(), state):
                        yield Chunk(text=text)
            finally:
                # Also runs when the consumer closes us early: the server sees the
                # connection go and stops generating.
                await response.aclose()
        if state.finish_reason is None:
            # No finish reason, with or without [DONE]: llama.cpp's server ends a request it cut
            # off (another one arrived) with a bare [DONE]. An empty "ok" answer would be voted on.
            ended = "said it was done without saying why" if state.done else "ended before the server said it was done"
            raise EngineProtocolError(f"the answer from endpoint '{self.name}' {ended}; it may be cut short")
        yield Chunk(usage=usage(state), finish_reason=state.finish_reason)

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
        return chat_payload(
            request, schema_style=self._schema_style, standard_fields_only=self._standard_fields_only
        )

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
            if refused_json_schema(request, schema_style=self._schema_style, status=response.status_code, body=body):
                logger.info("endpoint %r refused response_format json_schema; retrying with json_object", self.name)
                self._schema_style = "json_object"
                continue
            raise self._status_error(response, body, model=request.model)

    async def _list_models(self, *, timeout: httpx.Timeout) -> list[ModelInfo]:
        url = f"{self.base_url}/models"
        logger.debug("GET %s", url)
        with self._translating_errors():
            response = await self._client.get(url, headers=self._headers(), timeout=timeout)
        if response.status_code == 404:
            raise not_an_openai_api(url, endpoint=self.name)
        if response.status_code != 200:
            raise self._status_error(response, response.content, model=None)
        return model_list(response, url=url, endpoint=self.name, kind=self.kind)

    # -- errors -----------------------------------------------------------------------------

    def _quote(self, text: str) -> str:
        """A server's words, shortened, on one line, and never with our key in them."""
        text = " ".join(text.split())
        if self._api_key is not None:
            text = text.replace(self._api_key.get_secret_value(), "***")
        return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT] + "…"

    def _status_error(self, response: httpx.Response, body: bytes, *, model: str | None) -> EngineError:
        if self.key_variable is not None and response.status_code in (401, 403):
            # The key came with the request (or from its own variable), not from the endpoint settings.
            return EngineRejected(
                f"{self.base_url} refused the API key (HTTP {response.status_code}); "
                f"give a valid cloud.api_key or set {self.key_variable}"
            )
        said = self._quote(server_message(body)) or response.reason_phrase
        retry = response.headers.get("retry-after")
        return status_error(
            response.status_code,
            _STATUS_REPLIES,
            model_missing=_MODEL_MISSING.search(said) is not None,
            where=f"endpoint '{self.name}'",
            said=said,
            model=model,
            key_state="was refused" if self._api_key is not None else "is missing",
            key_variable=openai_key_env_name(self.name),
            retry=f"; retry after {self._quote(retry)} s" if retry else "; try again later",
        )

    @contextmanager
    def _translating_errors(self) -> Iterator[None]:
        """Map httpx's exceptions onto ours, with this endpoint's name, URL and timeouts."""
        with translating(
            _TRANSPORT_REPLIES,
            quote=self._quote,
            where=f"endpoint '{self.name}'",
            url=self.base_url,
            connect=self._timeout.connect,
            read=self._timeout.read,
        ):
            yield


def _is_json(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json"
