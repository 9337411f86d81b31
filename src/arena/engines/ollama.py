"""The Ollama engine: Ollama's native HTTP API (docs/api.md) spoken over httpx.

    GET    /api/tags      installed models            -> list_models()
    POST   /api/chat      streamed NDJSON answer      -> stream()
    GET    /api/version   {"version": "..."}          -> health()
    POST   /api/pull      streamed NDJSON progress    -> pull()
    DELETE /api/delete    200, or 404 when missing    -> delete()
    POST   /api/show      modelfile, details, info    -> show()

Every httpx exception and every HTTP error status is translated here, at the boundary,
into the arena's `EngineError` tree (through the tables below and ``http_errors.py``) with a
message that says what to do next.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import aclosing, contextmanager, suppress
from typing import Any, Final, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from arena.engines.base import Chunk, Engine, EngineHealth, GenerationRequest, ModelInfo, PullProgress, Usage
from arena.engines.egress import EgressPolicy
from arena.engines.http_errors import CLIENT_ERRORS, Failure, Reply, StatusReply, status_error, translating
from arena.engines.ndjson import NDJSONDecoder, preview
from arena.errors import (
    EngineError,
    EngineProtocolError,
    EngineRejected,
    EngineTimeout,
    EngineUnavailable,
    ModelNotAvailable,
)

# A local server accepts at once or not at all; only generation may take long.
CONNECT_TIMEOUT_S = 10.0
HEALTH_TIMEOUT_S = 5.0
# Ollama ends the body right after its `done` line; a server that does not is not waited for long.
DRAIN_S = 1.0
NANOSECONDS = 1e9

_Wire = TypeVar("_Wire", bound=BaseModel)

# Fields: url (the server), timeout (the request timeout in s). A misused stream is a bug: untranslated.
# {error}, not {detail}: these messages always showed the exception's own text, even when empty.
_TRANSPORT_REPLIES: Final[Mapping[Failure, Reply]] = {
    Failure.CONNECT_TIMEOUT: Reply(
        EngineTimeout, "Ollama at {url} did not accept a connection in time: is OLLAMA_HOST right?"
    ),
    Failure.TIMEOUT: Reply(
        EngineTimeout,
        "Ollama at {url} did not answer within {timeout:g} s: it may still be loading the model; "
        "try again or raise REQUEST_TIMEOUT",
    ),
    Failure.NO_SERVER: Reply(
        EngineUnavailable, "Ollama is not running at {url}: start it with `ollama serve` or set OLLAMA_HOST"
    ),
    Failure.BROKEN: Reply(
        EngineUnavailable, "Ollama at {url} broke off the connection ({error}): it may have crashed or restarted"
    ),
    Failure.UNDECODABLE: Reply(EngineProtocolError, "Ollama at {url} sent a body that cannot be decoded: {error}"),
    Failure.BAD_URL: Reply(EngineUnavailable, "{url} is not a usable Ollama URL ({error}): check OLLAMA_HOST"),
    Failure.OTHER: Reply(EngineUnavailable, "cannot talk to Ollama at {url}: {error}"),
}

# Fields: url (the server), said (Ollama's words), missing (what to say about a missing model),
# requested (the URL of the failed request).
_STATUS_REPLIES: Final = (
    StatusReply(ModelNotAvailable, "{missing}", statuses=CLIENT_ERRORS, model_missing=True),
    StatusReply(EngineProtocolError, "{requested} does not exist (404): is {url} an Ollama server?", statuses=(404,)),
    StatusReply(EngineUnavailable, "Ollama at {url} is busy ({said}): try again in a moment", statuses=(503,)),
    StatusReply(EngineRejected, "Ollama rejected the request: {said}", statuses=CLIENT_ERRORS),
    StatusReply(EngineError, "Ollama at {url} failed (HTTP {status}): {said}"),
)


# What we read from Ollama; unknown fields are ignored, wrong types are protocol errors.
class _Details(BaseModel):
    family: str | None = None
    parameter_size: str | None = None
    quantization_level: str | None = None


class _Tag(BaseModel):
    name: str
    size: int | None = None
    details: _Details | None = None


class _Tags(BaseModel):
    models: list[_Tag]


class _Version(BaseModel):
    version: str


class _Message(BaseModel):
    content: str | None = None


class _ChatLine(BaseModel):
    error: str | None = None
    message: _Message | None = None
    done: bool = False
    done_reason: str | None = None
    prompt_eval_count: int | None = None
    prompt_eval_duration: int | None = None
    eval_count: int | None = None
    eval_duration: int | None = None
    load_duration: int | None = None


class _PullLine(BaseModel):
    error: str | None = None
    status: str = ""
    digest: str | None = None
    total: int | None = None
    completed: int | None = None


def _parse(model: type[_Wire], data: Any, *, what: str) -> _Wire:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise EngineProtocolError(f"Ollama sent {what} we cannot read: {_shown(data)}") from exc


def chat_payload(request: GenerationRequest) -> dict[str, Any]:
    """The /api/chat body for a request; seed 0 means "random", which Ollama spells by omission."""
    opts = request.options
    options: dict[str, Any] = {
        "temperature": opts.temperature,
        "top_p": opts.top_p,
        "top_k": opts.top_k,
        "repeat_penalty": opts.repeat_penalty,
        "num_predict": opts.num_predict,
    }
    if opts.seed != 0:
        options["seed"] = opts.seed
    payload: dict[str, Any] = {
        "model": request.model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "stream": True,
        "options": options,
    }
    if request.json_schema is not None:
        payload["format"] = request.json_schema
    return payload


class OllamaEngine(Engine):
    """One Ollama server. Pass `client` to share a connection pool; otherwise it owns one, guarded
    by `egress` (the settings' policy; alone, just this server) narrowed to this server's origin."""

    kind = "ollama"
    can_pull = True
    can_delete = True

    def __init__(
        self,
        *,
        base_url: str,
        timeout: float = 300.0,
        client: httpx.AsyncClient | None = None,
        egress: EgressPolicy | None = None,
    ) -> None:
        super().__init__(endpoint=base_url.rstrip("/"))
        self.timeout = timeout
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT_S))
        self._owns_client = client is None
        if client is None:
            client = EgressPolicy.for_engine(self.endpoint, egress).client(timeout=self._timeout)
        self._client = client

    # -- the Engine interface -------------------------------------------------------------

    async def list_models(self) -> list[ModelInfo]:
        tags = _parse(_Tags, await self._request_json("GET", "/api/tags"), what="a model list")
        return [
            ModelInfo(
                id=f"{self.kind}:{tag.name}",
                engine=self.kind,
                name=tag.name,
                endpoint=self.endpoint,
                size=tag.size,
                family=tag.details.family if tag.details else None,
                parameter_size=tag.details.parameter_size if tag.details else None,
                quantization=tag.details.quantization_level if tag.details else None,
            )
            for tag in tags.models
        ]

    async def stream(self, request: GenerationRequest) -> AsyncIterator[Chunk]:
        # Leaving the `async with` (done, error, or the consumer closing us) closes the
        # response, and a closed connection is how Ollama learns to stop generating.
        with self._translating_errors():
            async with self._client.stream(
                "POST", self._url("/api/chat"), json=chat_payload(request), timeout=self._timeout
            ) as response:
                await self._raise_for_status(response, model=request.model)
                async with aclosing(self._ndjson(response)) as lines:
                    async for raw in lines:
                        line = _parse(_ChatLine, raw, what="a chat line")
                        if line.error is not None:
                            raise EngineError(f"Ollama stopped with an error: {line.error}")
                        if line.message is not None and line.message.content:
                            yield Chunk(text=line.message.content)
                        if line.done:
                            yield Chunk(usage=_usage(line), finish_reason=line.done_reason)
                            await _read_to_end(lines)
                            return
        raise EngineProtocolError(f"Ollama at {self.endpoint} ended the answer without its final `done` line")

    async def health(self) -> EngineHealth:
        try:
            data = await self._request_json("GET", "/api/version", timeout=min(self.timeout, HEALTH_TIMEOUT_S))
            version = _parse(_Version, data, what="a version").version
        except EngineError as exc:
            return EngineHealth(engine=self.kind, endpoint=self.endpoint, reachable=False, detail=str(exc))
        return EngineHealth(
            engine=self.kind, endpoint=self.endpoint, reachable=True, version=version, detail=f"Ollama {version}"
        )

    async def pull(self, name: str) -> AsyncIterator[PullProgress]:
        succeeded = False
        with self._translating_errors():
            async with self._client.stream(
                "POST", self._url("/api/pull"), json={"model": name, "stream": True}, timeout=self._timeout
            ) as response:
                await self._raise_for_status(response, model=None)
                async for raw in self._ndjson(response):
                    line = _parse(_PullLine, raw, what="a pull progress line")
                    if line.error is not None:
                        raise _pull_error(name, line.error)
                    succeeded = line.status == "success"
                    yield PullProgress(
                        status=line.status, completed=line.completed, total=line.total, digest=line.digest
                    )
        if not succeeded:
            raise EngineProtocolError(f"Ollama at {self.endpoint} ended the pull of '{name}' without `success`")

    async def delete(self, name: str) -> None:
        await self._request_json(
            "DELETE",
            "/api/delete",
            json={"model": name},
            model=name,
            missing=f"model '{name}' is not installed in Ollama at {self.endpoint}: there is nothing to delete",
        )

    async def show(self, name: str) -> dict[str, Any]:
        data = await self._request_json("POST", "/api/show", json={"model": name}, model=name)
        if not isinstance(data, dict):
            raise EngineProtocolError(f"Ollama sent a model description we cannot read: {_shown(data)}")
        return data

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    # -- plumbing -------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.endpoint + path

    async def _request_json(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        model: str | None = None,
        missing: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """One plain request; the decoded JSON body, or None when the body is empty."""
        request_timeout = self._timeout if timeout is None else httpx.Timeout(timeout)
        with self._translating_errors():
            response = await self._client.request(method, self._url(path), json=json, timeout=request_timeout)
        await self._raise_for_status(response, model=model, missing=missing)
        if not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise EngineProtocolError(
                f"Ollama at {self.endpoint} answered {path} with something that is not JSON: "
                f"{_shown(response.content)}"
            ) from exc

    async def _ndjson(self, response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
        decoder = NDJSONDecoder()
        async for data in response.aiter_bytes():
            for obj in decoder.feed(data):
                yield obj
        for obj in decoder.flush():
            yield obj

    async def _raise_for_status(
        self, response: httpx.Response, *, model: str | None, missing: str | None = None
    ) -> None:
        if response.is_success:
            return
        with self._translating_errors():
            await response.aread()
        raise self._status_error(response, model=model, missing=missing)

    def _status_error(self, response: httpx.Response, *, model: str | None, missing: str | None) -> EngineError:
        status, said = response.status_code, _error_text(response)
        return status_error(
            status,
            _STATUS_REPLIES,
            model_missing=model is not None and (status == 404 or "not found" in said.lower()),
            url=self.endpoint,
            said=said,
            missing=missing or f"model '{model}' is not pulled: run `arena pull {model}`",
            requested=response.request.url,
        )

    @contextmanager
    def _translating_errors(self) -> Iterator[None]:
        """Map httpx's exceptions onto ours; nothing from httpx leaves this module."""
        with translating(_TRANSPORT_REPLIES, url=self.endpoint, timeout=self.timeout):
            yield


async def _read_to_end(lines: AsyncIterator[dict[str, Any]]) -> None:
    """After the `done` line: read the body's end, so that its connection goes back to the pool
    (a response closed before its end closes the connection, and the next answer would wait for
    a new one). The answer is whole already: anything more, a broken end, or no end within
    DRAIN_S just closes the connection."""
    with suppress(TimeoutError, EngineError, httpx.HTTPError):
        async with asyncio.timeout(DRAIN_S):
            await anext(lines, None)


def _shown(data: Any) -> str:
    """The start of something Ollama sent, quoted for an error message."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(data)
    return preview(text)


def _usage(line: _ChatLine) -> Usage:
    # Ollama says how many prompt tokens it evaluated and for how long, not how many it
    # found in its cache: the cached count stays unknown (None).
    return Usage(
        prompt_tokens=line.prompt_eval_count,
        completion_tokens=line.eval_count or 0,
        generation_s=_seconds(line.eval_duration),
        load_s=_seconds(line.load_duration),
        prompt_s=_seconds(line.prompt_eval_duration),
    )


def _seconds(nanoseconds: int | None) -> float | None:
    return None if nanoseconds is None else nanoseconds / NANOSECONDS


def _error_text(response: httpx.Response) -> str:
    """Ollama's `{"error": "..."}` text, or the start of whatever else it sent."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"]
    text = response.text.strip()
    return _shown(text) if text else f"HTTP {response.status_code} {response.reason_phrase}".strip()


def _pull_error(name: str, text: str) -> EngineError:
    # Ollama reports a name missing from its library as a manifest that "does not exist".
    lowered = text.lower()
    if "does not exist" in lowered or "not found" in lowered:
        return ModelNotAvailable(
            f"'{name}' is not in the Ollama library ({text}): check the name at https://ollama.com/library"
        )
    return EngineError(f"pulling '{name}' failed: {text}")
