"""Reading an OpenAI-compatible chat answer: the SSE stream, or one JSON body, into ``Chunk``s.

No I/O here: ``ChatStreamReader`` folds decoded SSE events (``sse.py``) into text and a final
``Usage``, and reads the error formats these servers use (OpenAI's, vLLM's, FastAPI's).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from arena.engines.base import Chunk, Usage
from arena.engines.sse import SSEEvent
from arena.errors import EngineError, EngineProtocolError


@dataclass(kw_only=True)
class StreamState:
    """What one answer's stream has told us so far, besides its text."""

    usage: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None  # llama.cpp's server adds these to its last chunk
    finish_reason: str | None = None
    content_chunks: int = 0
    done: bool = False


class ChatStreamReader:
    """Reads the answers of the endpoint called ``name``; ``quote`` makes its words safe to show."""

    def __init__(self, *, name: str, quote: Callable[[str], str]) -> None:
        self.name = name
        self._quote = quote

    def texts(self, events: list[SSEEvent], state: StreamState) -> Iterator[str]:
        """The text in these events, up to `[DONE]`; everything else goes into the state."""
        for event in events:
            text = self._read_event(event, state)
            if text:
                yield text
            if state.done:
                return

    def _read_event(self, event: SSEEvent, state: StreamState) -> str:
        """Fold one SSE event into the state; return the text it carries, if any."""
        data = event.data.strip()
        if data == "[DONE]":
            state.done = True
            return ""
        if event.event == "error":
            message = server_message(data.encode()) or "no details"
            raise EngineError(f"endpoint '{self.name}' failed mid-answer: {self._quote(message)}")
        try:
            payload = json.loads(data)
        except ValueError as exc:
            raise EngineProtocolError(
                f"endpoint '{self.name}' sent a stream event that is not JSON: {self._quote(data)}"
            ) from exc
        if not isinstance(payload, dict):
            raise EngineProtocolError(f"endpoint '{self.name}' sent a stream event that is not an object")
        error = error_text(payload)
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

    def whole_completion(self, body: bytes) -> Iterator[Chunk]:
        """A server that ignored `stream: true` and sent one JSON answer."""
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise EngineProtocolError(f"endpoint '{self.name}' sent an answer that is not JSON") from exc
        error = error_text(payload) if isinstance(payload, dict) else None
        if error is not None:
            raise EngineError(f"endpoint '{self.name}' failed: {self._quote(error)}")
        try:
            choice = payload["choices"][0]
            text = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise EngineProtocolError(f"endpoint '{self.name}' sent an answer without choices") from exc
        state = StreamState(
            usage=payload.get("usage") if isinstance(payload.get("usage"), dict) else None,
            timings=payload.get("timings") if isinstance(payload.get("timings"), dict) else None,
            finish_reason=choice.get("finish_reason"),
        )
        if text:
            state.content_chunks = 1
            yield Chunk(text=text)
        yield Chunk(usage=usage(state), finish_reason=state.finish_reason)


def error_text(payload: dict[str, Any]) -> str | None:
    """The message of an OpenAI (`{"error": {...}}`) or vLLM (`{"object": "error"}`) error."""
    error = payload.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error)
    if isinstance(error, str) and error:
        return error
    if payload.get("object") == "error":
        return str(payload.get("message") or payload)
    return None


def server_message(body: bytes) -> str:
    """What the server said about a failed request, whatever its error format."""
    text = body.decode("utf-8", errors="replace")
    try:
        payload = json.loads(text)
    except ValueError:
        return text
    if isinstance(payload, dict):
        found = error_text(payload)
        if found is not None:
            return found
        detail = payload.get("detail")  # FastAPI-based servers
        if detail is not None:
            return detail if isinstance(detail, str) else json.dumps(detail)
    return text


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def usage(state: StreamState) -> Usage:
    """Token counts, from the best source the server gave.

    1. `usage` (OpenAI, vLLM, LM Studio, llama.cpp's server with include_usage);
    2. llama.cpp's `timings` (predicted_n; prompt_n plus the cached cache_n);
    and, for prompt caching, what `_cached` finds (None when the server says nothing);
    3. otherwise (llama-cpp-python sends neither) one token per content-bearing chunk, since
       these servers stream one chunk per sampled token. It can only undercount, when a
       server merges tokens (an incomplete UTF-8 character) into one chunk; the prompt
       count is then unknown.
    """
    reported = state.usage or {}
    timings = state.timings or {}
    completion = _int(reported.get("completion_tokens"))
    if completion is None:
        completion = _int(timings.get("predicted_n"))
    if completion is None:
        completion = state.content_chunks
    prompt = _int(reported.get("prompt_tokens"))
    if prompt is None and _int(timings.get("prompt_n")) is not None:
        prompt = timings["prompt_n"] + (_int(timings.get("cache_n")) or 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        generation_s=_ms_to_s(timings.get("predicted_ms")),
        cached_prompt_tokens=_cached(reported, timings),
        prompt_s=_ms_to_s(timings.get("prompt_ms")),
    )


def _cached(reported: dict[str, Any], timings: dict[str, Any]) -> int | None:
    """Prompt tokens served from the server's cache: OpenAI's (and vLLM's)
    `usage.prompt_tokens_details.cached_tokens`, else llama.cpp's `timings.cache_n`."""
    details = reported.get("prompt_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else None
    return cached if cached is not None else _int(timings.get("cache_n"))


def _ms_to_s(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return value / 1000.0
    return None
