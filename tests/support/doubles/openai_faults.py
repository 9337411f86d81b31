"""A fault-injecting OpenAI-compatible server: it speaks the OpenAI streaming protocol byte by byte
and misbehaves on request (rate limits, errors mid-stream, stalls, garbage), picked by the model name.

    with running_fault_server() as server:  # server.base_url ends in /v1; the key is FAULT_KEY
        ...
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULT_KEY = "sk-fault-0123456789abcdef"


def sse(payload: dict[str, Any] | str, line_end: str = "\n") -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}{line_end}{line_end}".encode()


def delta(content: str | None = None, finish_reason: str | None = None, **extra: Any) -> dict[str, Any]:
    body = {} if content is None else {"content": content}
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": body, "finish_reason": finish_reason}],
            **extra}  # fmt: skip


ROLE = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant"}}]}
DONE = sse("[DONE]")


@dataclass
class FaultServer:
    """What a running fault server saw: every request, and whether a client hung up mid-answer."""

    base_url: str
    requests: list[dict[str, Any]] = field(default_factory=list)  # {"path", "headers", "body"}
    disconnected: threading.Event = field(default_factory=threading.Event)

    def chat_requests(self, model: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["body"] and r["body"].get("model") == model]


class FaultHandler(BaseHTTPRequestHandler):
    server_state: FaultServer  # set on a subclass per server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        self._record(None)
        if not self._authorized():
            return
        if self.path == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": "echo", "object": "model"}, {"id": "org/model:7b"}]})
        elif self.path == "/html/v1/models":
            self._send(200, "text/html", [b"<html>welcome</html>"])
        else:
            self._json(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._record(body)
        if not self._authorized():
            return
        scenario = SCENARIOS.get(body["model"])
        if scenario is None:
            self._json(404, {"error": {"message": f"The model `{body['model']}` does not exist.",
                                       "code": "model_not_found"}})  # fmt: skip
            return
        scenario(self, body)

    def _record(self, body: dict[str, Any] | None) -> None:
        self.server_state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})

    def _authorized(self) -> bool:
        got = self.headers.get("Authorization", "")
        if got == f"Bearer {FAULT_KEY}":
            return True
        # Like OpenAI, the server quotes the key it was given: the engine must not repeat it.
        self._json(401, {"error": {"message": f"Incorrect API key provided: {got.removeprefix('Bearer ')}"}})
        return False

    def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send(status, "application/json", [json.dumps(payload).encode()], headers=headers)

    def _send(self, status: int, content_type: str, parts: list[bytes], *, headers: dict[str, str] | None = None,
              pause_s: float = 0.0) -> None:  # fmt: skip
        """Send `parts` as separate writes (so they arrive as separate reads), then close."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            for part in parts:
                self.wfile.write(part)
                self.wfile.flush()
                time.sleep(pause_s)
        except OSError:
            self.server_state.disconnected.set()

    def stream(self, parts: list[bytes], pause_s: float = 0.01) -> None:
        self._send(200, "text/event-stream", parts, pause_s=pause_s)


Scenario = Callable[[FaultHandler, dict[str, Any]], None]


def echo(handler: FaultHandler, body: dict[str, Any]) -> None:
    handler.stream([sse(ROLE), sse(delta("Hel")), sse(delta("lo")), sse(delta(finish_reason="stop")), DONE])


def keepalive(handler: FaultHandler, body: dict[str, Any]) -> None:
    # CRLF line ends (sse-starlette's default), comments as keep-alives, and "é" cut in two.
    first, second = sse(delta("café"), "\r\n").split("\xc3".encode("latin-1"))
    handler.stream([b": ping\r\n\r\n", sse(ROLE, "\r\n"), first + b"\xc3", second, b": ping - 2024\r\n\r\n",
                    sse(delta(" ok", "stop"), "\r\n"), b": ping\r\n\r\n", b"data: [DONE]\r\n\r\n"])  # fmt: skip


def usage_and_timings(handler: FaultHandler, body: dict[str, Any]) -> None:
    timings = {"prompt_n": 3, "cache_n": 9, "prompt_ms": 12.0, "predicted_n": 5, "predicted_ms": 250.0}
    usage = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
    handler.stream([sse(delta("one two")), sse(delta(" three")), sse(delta(finish_reason="stop", timings=timings)),
                    sse({"object": "chat.completion.chunk", "choices": [], "usage": usage}), DONE])  # fmt: skip


def timings_only(handler: FaultHandler, body: dict[str, Any]) -> None:
    timings = {"prompt_n": 3, "cache_n": 9, "predicted_n": 4, "predicted_ms": 100.0}
    handler.stream([sse(delta("a")), sse(delta("b")), sse(delta(finish_reason="length", timings=timings)), DONE])


def cached_usage(handler: FaultHandler, body: dict[str, Any]) -> None:
    # OpenAI's (and vLLM's) report of a prompt served mostly from the cache; no timings.
    usage = {"prompt_tokens": 1200, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 1024}}
    handler.stream([sse(delta("Hi")), sse(delta(" again", "stop")),
                    sse({"object": "chat.completion.chunk", "choices": [], "usage": usage}), DONE])  # fmt: skip


def error_mid_stream(handler: FaultHandler, body: dict[str, Any]) -> None:
    handler.stream([sse(delta("Partial")), sse(delta(" answer")), sse({"error": {"message": "CUDA out of memory"}})])


def rate_limited(handler: FaultHandler, body: dict[str, Any]) -> None:
    handler._json(429, {"error": {"message": "Rate limit reached"}}, headers={"Retry-After": "7"})


def loading(handler: FaultHandler, body: dict[str, Any]) -> None:
    handler._json(503, {"error": {"message": "Loading model"}})


def garbage(handler: FaultHandler, body: dict[str, Any]) -> None:
    handler.stream([sse(delta("ok")), b"data: {this is not json\n\n", DONE])


def truncated(handler: FaultHandler, body: dict[str, Any]) -> None:
    handler.stream([sse(delta("cut")), sse(delta(" off"))])  # then the connection closes


def done_without_reason(handler: FaultHandler, body: dict[str, Any]) -> None:
    # llama.cpp's server ends a request it cut off (another one arrived) with a bare [DONE].
    handler.stream([sse(ROLE), DONE])


def slow_to_answer(handler: FaultHandler, body: dict[str, Any]) -> None:
    time.sleep(1.5)
    echo(handler, body)


def stalls(handler: FaultHandler, body: dict[str, Any]) -> None:
    handler.stream([sse(delta("started")), b": thinking\n\n"], pause_s=1.5)


def endless(handler: FaultHandler, body: dict[str, Any]) -> None:
    handler.stream([sse(delta(f"t{i} ")) for i in range(500)], pause_s=0.01)


def json_schema_refused(handler: FaultHandler, body: dict[str, Any]) -> None:
    # What llama-cpp-python does with OpenAI's structured-output form.
    if body.get("response_format", {}).get("type") == "json_schema":
        handler._json(500, {"error": {"message": "validation error: ('body', 'response_format', 'type') "
                                                 "Input should be 'text' or 'json_object'"}})  # fmt: skip
        return
    handler.stream([sse(delta('{"winner": ')), sse(delta('"A"}', "stop")), DONE])


def not_streamed(handler: FaultHandler, body: dict[str, Any]) -> None:
    handler._json(200, {"object": "chat.completion", "usage": {"prompt_tokens": 4, "completion_tokens": 2},
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi there"},
                                     "finish_reason": "stop"}]})  # fmt: skip


SCENARIOS: dict[str, Scenario] = {
    "echo": echo,
    "keepalive": keepalive,
    "usage-timings": usage_and_timings,
    "timings-only": timings_only,
    "cached-usage": cached_usage,
    "error-mid-stream": error_mid_stream,
    "rate-limited": rate_limited,
    "loading": loading,
    "garbage": garbage,
    "truncated": truncated,
    "done-without-reason": done_without_reason,
    "slow": slow_to_answer,
    "stalls": stalls,
    "endless": endless,
    "schema-picky": json_schema_refused,
    "not-streamed": not_streamed,
}


@contextmanager
def running_fault_server() -> Iterator[FaultServer]:
    """A fault server on a free loopback port, shut down on leaving."""
    state = FaultServer(base_url="")
    handler = type("BoundFaultHandler", (FaultHandler,), {"server_state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
