"""A small local double of two cloud APIs a judge may call: Anthropic's Messages API (SSE) and
an OpenAI-compatible chat completions API, each accepting one API key."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


def anthropic_key(headers: Mapping[str, str]) -> str | None:
    """The API reads x-api-key, or the bearer token that SDK 2.x sends."""
    bearer = headers.get("authorization", "").removeprefix("Bearer ") or None
    return headers.get("x-api-key") or bearer


class CloudDouble:
    """Anthropic's POST /v1/messages (SSE) and GET /v1/models, and OpenAI's POST /v1/chat/completions,
    as their documentation describes them; `decide(prompt)` writes the answer."""

    def __init__(self, *, keys: dict[str, str]) -> None:
        self.keys = keys  # path prefix -> the one key it accepts
        self.decide: Callable[[str], str] = lambda prompt: '{"verdict": "A", "explanation": "first"}'
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.url = ""
        self._server: uvicorn.Server | None = None

    def _refuse(self, request: Request, given: str | None) -> Response | None:
        self.headers.append(dict(request.headers))
        if given == self.keys[request.url.path.split("/")[1]]:
            return None
        # Like some real gateways, echo what was sent: the arena must not repeat it.
        message = f"invalid x-api-key: {given}"
        return JSONResponse(
            {"type": "error", "error": {"type": "authentication_error", "message": message}}, status_code=401
        )

    async def messages(self, request: Request) -> Response:
        refused = self._refuse(request, anthropic_key(request.headers))
        if refused is not None:
            return refused
        body = await request.json()
        self.bodies.append(body)
        text = self.decide(body["messages"][-1]["content"])

        def event(kind: str, data: dict[str, Any]) -> bytes:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()

        async def events() -> Any:
            yield event(
                "message_start",
                {
                    "message": {
                        "id": "msg_01",
                        "type": "message",
                        "role": "assistant",
                        "content": [],
                        "model": body["model"],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": 321, "output_tokens": 1},
                    }
                },
            )
            yield event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
            yield event("ping", {})
            for start in range(0, len(text), 5):
                yield event(
                    "content_block_delta",
                    {"index": 0, "delta": {"type": "text_delta", "text": text[start : start + 5]}},
                )
            yield event("content_block_stop", {"index": 0})
            yield event(
                "message_delta",
                {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 17}},
            )
            yield event("message_stop", {})

        return StreamingResponse(events(), media_type="text/event-stream")

    async def models(self, request: Request) -> Response:
        refused = self._refuse(request, anthropic_key(request.headers))
        if refused is not None:
            return refused
        model = {"type": "model", "id": "claude-judge-1", "display_name": "Judge", "created_at": "2025-01-01T00:00:00Z"}
        return JSONResponse(
            {"data": [model], "has_more": False, "first_id": "claude-judge-1", "last_id": "claude-judge-1"}
        )

    async def chat_completions(self, request: Request) -> Response:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        refused = self._refuse(request, bearer)
        if refused is not None:
            return refused
        body = await request.json()
        self.bodies.append(body)
        text = self.decide(body["messages"][-1]["content"])

        def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
            payload = {
                "id": "c1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": body["model"],
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(payload)}\n\n".encode()

        async def events() -> Any:
            yield chunk({"role": "assistant", "content": text}, None)
            yield chunk({}, "stop")
            usage = {"prompt_tokens": 300, "completion_tokens": 20, "total_tokens": 320}
            yield f"data: {json.dumps({'id': 'c1', 'choices': [], 'usage': usage})}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    def start(self) -> None:
        app = Starlette(
            routes=[
                Route("/v1/messages", self.messages, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/openai/v1/chat/completions", self.chat_completions, methods=["POST"]),
            ]
        )
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None, log_level="warning"))
        threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True).start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the cloud double did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
