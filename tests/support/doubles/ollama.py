"""A faithful stand-in for an Ollama server, built from Ollama's docs/api.md.

A real HTTP server (Starlette under uvicorn, in a background thread, on an ephemeral
127.0.0.1 port) that speaks Ollama's protocol, so engine code is tested over real sockets:

    with ollama_double(models=[DoubleModel(name="llama3.2:1b")]) as double:
        engine = OllamaEngine(base_url=double.url)
        ...
        assert double.bodies("/api/chat")[-1]["options"]["top_k"] == 40

or take the shared `double` fixture (tests/support/fixtures.py: two installed models, see
`DEFAULT_MODELS`; `@pytest.mark.double(library=[...])` changes them).


Endpoints, as documented: GET /api/tags, POST /api/chat (NDJSON stream, or one object with
`"stream": false`), POST /api/pull (NDJSON progress), DELETE /api/delete, POST /api/show,
GET /api/version, and GET / ("Ollama is running"). Names without a tag mean `:latest`.
Errors are `{"error": "..."}` bodies with Ollama's status codes and wording.

Knobs (plain attributes; set them any time from the test):
    reply              tokens /api/chat streams, one NDJSON line each (`num_predict` caps
                       them, and then `done_reason` is "length")
    token_delay        seconds between tokens
    first_token_delay  seconds before the first token (a model loading)
    metrics            `ChatMetrics` reported in the final object; `eval_count` is the
                       number of tokens actually sent
    busy               /api/chat answers 503 "server busy, please try again..."
    error_after        after N tokens send `{"error": error_message}` and end the stream
    cut_after          after N tokens drop the connection mid-body
    garbage_after      after N tokens send a line that is not JSON
    pull_delay         seconds between pull progress lines
    version            what /api/version reports
State and observations:
    models             installed models by name (pull adds, delete removes); a chat for a
                       name not here is the documented 404 "not found, try pulling it first"
    library            what /api/pull can fetch; other names fail as "file does not exist"
    requests           every `RecordedRequest(method, path, body)` received, in order
    bodies(path)       the JSON bodies received on one path
    disconnects        chat streams the client abandoned before the final object
    streaming          chat streams in progress now; `peak_streaming` the most at once
    await wait_for_disconnect(timeout)  True once a chat stream has been abandoned
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive

BUSY_MESSAGE = "server busy, please try again.  maximum pending requests exceeded"
DEFAULT_ERROR_MESSAGE = "an error was encountered while running the model: unexpected EOF"
NDJSON = "application/x-ndjson"


@dataclass(frozen=True, kw_only=True)
class DoubleModel:
    """An installed (or pullable) model as /api/tags describes it."""

    name: str
    size: int = 1_321_098_329
    family: str = "llama"
    parameter_size: str = "1.2B"
    quantization_level: str = "Q4_K_M"
    format: str = "gguf"

    @property
    def tagged_name(self) -> str:
        return with_tag(self.name)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.tagged_name.encode()).hexdigest()

    def details(self) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": self.format,
            "family": self.family,
            "families": [self.family],
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }


@dataclass(frozen=True, kw_only=True)
class ChatMetrics:
    """Counts and nanosecond durations for the final chat object (docs/api.md example)."""

    prompt_eval_count: int = 26
    load_duration: int = 1_334_875
    prompt_eval_duration: int = 342_546_000
    eval_duration: int = 4_535_599_000

    @property
    def total_duration(self) -> int:
        return self.load_duration + self.prompt_eval_duration + self.eval_duration


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    body: Any = None


DEFAULT_MODELS = (
    DoubleModel(name="llama3.2:1b"),
    DoubleModel(name="qwen2.5:0.5b", size=397_821_319, family="qwen2", parameter_size="494.03M"),
)
DEFAULT_REPLY = ("The", " sky", " is", " blue", " — ", "Rayleigh", " scattering", ".")


def with_tag(name: str) -> str:
    """Ollama's model names default to the `latest` tag."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _line(obj: dict[str, Any]) -> bytes:
    # Ollama (Go's json.Encoder) writes raw UTF-8 and one newline per object.
    return json.dumps(obj, ensure_ascii=False).encode() + b"\n"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class _CutConnection(Exception):
    """Raised mid-body on purpose: uvicorn then drops the connection without finishing it."""


class _QuietCuts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], _CutConnection))


logging.getLogger("uvicorn.error").addFilter(_QuietCuts())


class _WatchedStream(StreamingResponse):
    """A streaming response that reports a client leaving before the stream finished."""

    def __init__(
        self, content: AsyncIterator[bytes], *, finished: Callable[[], bool], on_abandon: Callable[[], None]
    ) -> None:
        super().__init__(content, media_type=NDJSON)
        self._finished = finished
        self._on_abandon = on_abandon

    async def listen_for_disconnect(self, receive: Receive) -> None:
        await super().listen_for_disconnect(receive)
        if not self._finished():
            self._on_abandon()


class OllamaDouble:
    """See the module docstring for the knobs; use `ollama_double()` to run one."""

    def __init__(
        self,
        *,
        models: Iterable[DoubleModel] = DEFAULT_MODELS,
        library: Iterable[DoubleModel] = (),
        version: str = "0.6.5",
    ) -> None:
        self.models: dict[str, DoubleModel] = {m.tagged_name: m for m in models}
        self.library: dict[str, DoubleModel] = {m.tagged_name: m for m in library}
        self.version = version
        self.reply: list[str] = list(DEFAULT_REPLY)
        self.token_delay = 0.0
        self.first_token_delay = 0.0
        self.metrics = ChatMetrics()
        self.busy = False
        self.error_after: int | None = None
        self.error_message = DEFAULT_ERROR_MESSAGE
        self.cut_after: int | None = None
        self.garbage_after: int | None = None
        self.pull_delay = 0.0
        self.requests: list[RecordedRequest] = []
        self.disconnects = 0
        self.streaming = 0  # chat streams in progress now
        self.peak_streaming = 0  # the most at once (set it back to 0 to measure afresh)
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- for tests -------------------------------------------------------------------------

    def bodies(self, path: str) -> list[Any]:
        return [r.body for r in self.requests if r.path == path]

    async def wait_for_disconnect(self, timeout: float = 5.0) -> bool:
        """Poll without blocking the caller's event loop (its sockets must keep closing)."""
        deadline = time.monotonic() + timeout
        while self.disconnects == 0:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    def start(self) -> None:
        # IPPROTO_TCP named, as a bound host name gets it: asyncio turns Nagle off (TCP_NODELAY) only
        # on sockets that say so, as Ollama's (Go) are. With Nagle, a token written while the
        # previous one is unacknowledged waits for a delayed ACK (40 ms) on a reused connection.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(
            self._app(), http="h11", loop="asyncio", lifespan="off", log_config=None, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="ollama-double", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Ollama double did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        # Tests end with streams still open on purpose; do not wait for them.
        self._server.should_exit = True
        self._server.force_exit = True
        self._thread.join(timeout=10)
        self._server = self._thread = None

    # -- the protocol ----------------------------------------------------------------------

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/", self._root, methods=["GET", "HEAD"]),
                Route("/api/version", self._version, methods=["GET"]),
                Route("/api/tags", self._tags, methods=["GET"]),
                Route("/api/chat", self._chat, methods=["POST"]),
                Route("/api/pull", self._pull, methods=["POST"]),
                Route("/api/delete", self._delete, methods=["DELETE"]),
                Route("/api/show", self._show, methods=["POST"]),
            ]
        )

    async def _read(self, request: Request) -> tuple[dict[str, Any] | None, Response | None]:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            self.requests.append(RecordedRequest(request.method, request.url.path, raw.decode(errors="replace")))
            return None, _error(400, "invalid character in request body")
        self.requests.append(RecordedRequest(request.method, request.url.path, body))
        if not isinstance(body, dict):
            return None, _error(400, "missing request body")
        return body, None

    async def _root(self, request: Request) -> Response:
        return PlainTextResponse("Ollama is running")

    async def _version(self, request: Request) -> Response:
        self.requests.append(RecordedRequest(request.method, request.url.path))
        return JSONResponse({"version": self.version})

    async def _tags(self, request: Request) -> Response:
        self.requests.append(RecordedRequest(request.method, request.url.path))
        return JSONResponse(
            {
                "models": [
                    {
                        "name": m.tagged_name,
                        "model": m.tagged_name,
                        "modified_at": _now(),
                        "size": m.size,
                        "digest": m.digest,
                        "details": m.details(),
                    }
                    for m in self.models.values()
                ]
            }
        )

    async def _chat(self, request: Request) -> Response:
        body, problem = await self._read(request)
        if problem is not None:
            return problem
        assert body is not None
        name = body.get("model") or body.get("name")
        if not name:
            return _error(400, "model is required")
        if self.busy:
            return _error(503, BUSY_MESSAGE)
        if with_tag(name) not in self.models:
            return _error(404, f'model "{name}" not found, try pulling it first')
        fmt = body.get("format")
        if fmt not in (None, "", "json") and not isinstance(fmt, dict):
            return _error(400, f"invalid format: {json.dumps(fmt)}; expected \"json\" or a JSON schema")
        messages = body.get("messages") or []
        if not messages:  # documented: an empty chat just loads the model
            return JSONResponse(self._final(name, tokens=0, done_reason="load", content=""))
        tokens, done_reason = self._tokens_for(body.get("options") or {})
        if body.get("stream", True) is False:
            whole = self._final(name, tokens=len(tokens), done_reason=done_reason, content="".join(tokens))
            return JSONResponse(whole)
        state = {"finished": False}

        def abandoned() -> None:
            self.disconnects += 1

        return _WatchedStream(
            self._chat_lines(name, tokens, done_reason, state),
            finished=lambda: state["finished"],
            on_abandon=abandoned,
        )

    def _tokens_for(self, options: dict[str, Any]) -> tuple[list[str], str]:
        tokens = list(self.reply)
        limit = options.get("num_predict")
        if isinstance(limit, int) and 0 <= limit < len(tokens):
            return tokens[:limit], "length"
        return tokens, "stop"

    def _final(self, name: str, *, tokens: int, done_reason: str, content: str) -> dict[str, Any]:
        final: dict[str, Any] = {
            "model": name,
            "created_at": _now(),
            "message": {"role": "assistant", "content": content},
            "done_reason": done_reason,
            "done": True,
        }
        if done_reason != "load":
            m = self.metrics
            final |= {
                "total_duration": m.total_duration,
                "load_duration": m.load_duration,
                "prompt_eval_count": m.prompt_eval_count,
                "prompt_eval_duration": m.prompt_eval_duration,
                "eval_count": tokens,
                "eval_duration": m.eval_duration,
            }
        return final

    async def _chat_lines(
        self, name: str, tokens: list[str], done_reason: str, state: dict[str, bool]
    ) -> AsyncIterator[bytes]:
        self.streaming += 1
        self.peak_streaming = max(self.peak_streaming, self.streaming)
        try:
            async for chunk in self._chat_chunks(name, tokens, done_reason, state):
                yield chunk
        finally:
            self.streaming -= 1

    async def _chat_chunks(
        self, name: str, tokens: list[str], done_reason: str, state: dict[str, bool]
    ) -> AsyncIterator[bytes]:
        if self.first_token_delay:
            await asyncio.sleep(self.first_token_delay)
        for index in range(len(tokens) + 1):
            if index == self.error_after:
                state["finished"] = True
                yield _line({"error": self.error_message})
                return
            if index == self.cut_after:
                raise _CutConnection(f"cut after {index} tokens")
            if index == self.garbage_after:
                yield b"<html><body>502 Bad Gateway</body></html>\n"
            if index == len(tokens):
                break
            if index and self.token_delay:
                await asyncio.sleep(self.token_delay)
            yield _line(
                {
                    "model": name,
                    "created_at": _now(),
                    "message": {"role": "assistant", "content": tokens[index]},
                    "done": False,
                }
            )
        state["finished"] = True
        yield _line(self._final(name, tokens=len(tokens), done_reason=done_reason, content=""))

    async def _pull(self, request: Request) -> Response:
        body, problem = await self._read(request)
        if problem is not None:
            return problem
        assert body is not None
        name = body.get("model") or body.get("name")
        if not name:
            return _error(400, "model is required")
        model = self.library.get(with_tag(name))
        if body.get("stream", True) is False:
            if model is None:
                return _error(500, "pull model manifest: file does not exist")
            self.models[model.tagged_name] = model
            return JSONResponse({"status": "success"})
        return StreamingResponse(self._pull_lines(model), media_type=NDJSON)

    async def _pull_lines(self, model: DoubleModel | None) -> AsyncIterator[bytes]:
        yield _line({"status": "pulling manifest"})
        if model is None:
            yield _line({"error": "pull model manifest: file does not exist"})
            return
        digest = f"sha256:{model.digest}"
        total = model.size
        # Until some bytes have arrived, `completed` is absent (docs/api.md).
        yield _line({"status": f"downloading {digest}", "digest": digest, "total": total})
        for step in range(1, 5):
            await asyncio.sleep(self.pull_delay)
            completed = total * step // 4
            yield _line(
                {"status": f"downloading {digest}", "digest": digest, "total": total, "completed": completed}
            )
        for status in ("verifying sha256 digest", "writing manifest", "removing any unused layers"):
            await asyncio.sleep(self.pull_delay)
            yield _line({"status": status})
        self.models[model.tagged_name] = model
        yield _line({"status": "success"})

    async def _delete(self, request: Request) -> Response:
        body, problem = await self._read(request)
        if problem is not None:
            return problem
        assert body is not None
        name = body.get("model") or body.get("name") or ""
        if self.models.pop(with_tag(name), None) is None:
            return _error(404, f"model '{name}' not found")
        return Response(status_code=200)

    async def _show(self, request: Request) -> Response:
        body, problem = await self._read(request)
        if problem is not None:
            return problem
        assert body is not None
        name = body.get("model") or body.get("name") or ""
        model = self.models.get(with_tag(name))
        if model is None:
            return _error(404, f"model '{name}' not found")
        return JSONResponse(
            {
                "modelfile": f"# Modelfile generated by \"ollama show\"\nFROM {model.tagged_name}\n",
                "parameters": 'stop                           "<|eot_id|>"',
                "template": "{{ .Prompt }}",
                "details": model.details(),
                "model_info": {
                    "general.architecture": model.family,
                    "general.parameter_count": 1_235_814_432,
                    f"{model.family}.context_length": 131072,
                },
                "capabilities": ["completion"],
                "modified_at": _now(),
            }
        )


@contextmanager
def ollama_double(
    *,
    models: Iterable[DoubleModel] = DEFAULT_MODELS,
    library: Iterable[DoubleModel] = (),
    version: str = "0.6.5",
) -> Iterator[OllamaDouble]:
    """Run an `OllamaDouble` for the duration of the `with` block."""
    double = OllamaDouble(models=models, library=library, version=version)
    double.start()
    try:
        yield double
    finally:
        double.stop()


@pytest.fixture
def ollama_server() -> Iterator[OllamaDouble]:
    """A running double with `DEFAULT_MODELS` installed and nothing in its library."""
    with ollama_double() as double:
        yield double
