"""NDJSON lines for the streaming API, in both formats (`schemas/stream.py` documents them),
the response that carries them, and the stop handles of the streams now running (shared across
processes by web/stop_signals.py when there is a Redis)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from arena.evaluation.conversation.compare import Event, FinishEvent, Metrics
from arena.evaluation.conversation.view import masked_error
from arena.storage.failures import reason
from arena.web.schemas.stream import LineFormat
from arena.web.unexpected import where_raised

logger = logging.getLogger(__name__)
NDJSON = "application/x-ndjson"
# A proxy that buffers (nginx does by default) would hold tokens back until the stream ends.
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class NdjsonStream(StreamingResponse):
    """A streamed NDJSON body that no proxy or cache holds back. (No class-level media type:
    FastAPI would document a route's JSON error bodies under it; `web/openapi.py` says why.)"""

    def __init__(self, content: AsyncIterable[bytes], status_code: int = 200) -> None:
        super().__init__(content, status_code=status_code, media_type=NDJSON, headers=STREAM_HEADERS)


class NdjsonStreamWithCleanup(NdjsonStream):
    """Runs `cleanup` however the response ends, even when the client left before the
    body started (then Starlette never iterates it, and a generator's `finally` never runs)."""

    def __init__(self, content: AsyncIterable[bytes], *, cleanup: Callable[[], Awaitable[None]]) -> None:
        super().__init__(content)
        self._cleanup = cleanup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._cleanup()


def line(payload: dict[str, Any]) -> bytes:
    return (json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def v3_metrics(metrics: Metrics | None) -> dict[str, Any]:
    """Our metrics plus v3's name for the time to the first token (`first_token_time`)."""
    values: dict[str, Any] = metrics.to_dict() if metrics is not None else dict(EMPTY_METRICS)
    return {**values, "first_token_time": values["ttft_s"]}


EMPTY_METRICS = {
    "prompt_tokens": None, "tokens": 0, "ttft_s": None, "duration_s": 0.0, "tokens_per_sec": None,
    "cached_prompt_tokens": None, "prompt_s": None, "finish_reason": None,
    "wait_s": None, "load_s": None, "engine_timed": False, "contended": False,
    "shared_prompt_tokens": None, "engine_settings": None,
}  # fmt: skip
# Withheld (a masked conversation, no show_metrics): every key a v3 reader indexes, each null.
WITHHELD_V3_METRICS = {**dict.fromkeys(EMPTY_METRICS), "first_token_time": None}


def shown_metrics(metrics: Metrics | None, *, line_format: LineFormat, withheld: bool) -> dict[str, Any] | None:
    """An answer's metrics as the client may see them. Withheld, as in a masked conversation
    unless the client asked for them (prompt tokens alone tell models apart: each template
    counts differently), they are absent in format arena, and all null in v3, whose readers
    index them."""
    if line_format == "v3":
        return dict(WITHHELD_V3_METRICS) if withheld else v3_metrics(metrics)
    return None if withheld or metrics is None else metrics.to_dict()


def start_payload(
    *, conversation_id: str, turn_id: int, instances: list[dict[str, str]], line_format: LineFormat
) -> dict[str, Any]:
    """The first line: where the turn is stored and which instances answer it."""
    payload: dict[str, Any] = {"conversation_id": conversation_id, "turn_id": turn_id, "instances": instances}
    if line_format == "arena":
        return payload
    # Empty `model` and `token`: a v3 reader indexes both on every line, and prints nothing here.
    return {"type": "start", **payload, "model": "", "token": "", "done": False}


def event_payload(
    event: Event,
    *,
    label: str | None = None,
    key: str | None = None,
    line_format: LineFormat = "arena",
    hide_metrics: bool = False,
    response_id: int | None = None,
) -> dict[str, Any]:
    """One line for one event; with a ``label`` (a masked blind conversation) the line names
    the instance by its label alone, and an error is a fixed sentence (``masked_error``). ``key``
    names the instance otherwise (the client's own id in format v3). ``hide_metrics`` withholds
    a done line's metrics (``shown_metrics``: masked, unless the client asked for them).
    ``response_id``: the stored answer a done line ends (format arena), so that a page votes on
    the answer it shows, never on one regenerated elsewhere meanwhile."""
    shown_id, shown_model = (label, label) if label else (key or event.instance_id, event.model)
    v3 = line_format == "v3"
    if not isinstance(event, FinishEvent):
        payload = {"instance_id": shown_id, "model": shown_model, "token": event.text, "done": False}
        return {"type": "token", **payload} if v3 else payload
    error = None
    if event.status != "ok":
        error = masked_error(event.status, event.error) if label else event.error or event.status
    if v3:
        payload = {"type": "metrics" if error is None else "error", "instance_id": shown_id, "model": shown_model}
        payload |= {"token": "", "done": True, "status": event.status}
        if error is None or event.metrics is not None:
            payload["metrics"] = shown_metrics(event.metrics, line_format="v3", withheld=hide_metrics)
        return payload | ({"error": error} if error is not None else {})
    payload = {"instance_id": shown_id, "model": shown_model, "done": True}
    if response_id is not None:
        payload["response_id"] = response_id
    metrics = shown_metrics(event.metrics, line_format="arena", withheld=hide_metrics)
    if metrics is not None:
        payload["metrics"] = metrics
    if error is not None:
        payload["error"] = error
        payload["status"] = event.status
    return payload


STREAM_FAILED = "the server could not finish this answer"


def stream_failure(instance_id: str, model: str, exc: Exception) -> FinishEvent:
    """The end of an instance whose stream broke on the server's side, so that the client still
    gets its done line (`log_broken_stream` says why, once per stream)."""
    return FinishEvent(instance_id=instance_id, model=model, status="error", text="", error=STREAM_FAILED, exception=exc)


def log_broken_stream(turn_id: int, exc: Exception) -> None:
    """Where it broke, without the exception's message (it may quote the prompt or the answer)."""
    logger.error("the stream of turn %s broke: %s: %s", turn_id, reason(exc), where_raised(exc))


class SharedStreams(Protocol):
    """The streams of every process sharing a Redis (web/stop_signals.py): where each runs, and
    stop requests sent to the process that runs it."""

    async def announce(self, entries: list[tuple[int, str]]) -> None: ...

    def withdraw(self, entries: list[tuple[int, str]]) -> None: ...

    async def is_running(self, turn_id: int, key: str) -> bool: ...

    async def stop(self, turn_id: int, key: str) -> bool: ...


class RunningStreams:
    """Stop handles of the answers streaming now, found by (turn id, key).

    Every key a client may use for an instance (its label, and its id when nothing is
    hidden) points at the same handle. Used on the event loop only, so no lock is needed.
    With `shared` (Redis), the streams of the other processes are reached too.
    """

    def __init__(self, shared: SharedStreams | None = None) -> None:
        self._handles: dict[tuple[int, str], asyncio.Event] = {}
        self.shared = shared

    def entries(self) -> list[tuple[int, str]]:
        """Every (turn id, key) streaming in this process."""
        return list(self._handles)

    async def is_running(self, turn_id: int, key: str) -> bool:
        """Streaming here, or (shared) in any process."""
        if (turn_id, key) in self._handles:
            return True
        return self.shared is not None and await self.shared.is_running(turn_id, key)

    async def register(self, turn_id: int, aliases: Mapping[str, Iterable[str]]) -> dict[str, asyncio.Event]:
        """One handle per instance id (``aliases`` maps it to its keys); pass them to compare().
        Shared, the keys are announced before this returns: a client told the turn can stop it anywhere."""
        handles = {}
        added = []
        for instance_id, keys in aliases.items():
            handle = handles[instance_id] = asyncio.Event()
            for key in keys:
                self._handles[(turn_id, key)] = handle
                added.append((turn_id, key))
        if self.shared is not None:
            try:
                await self.shared.announce(added)
            except BaseException:  # cancelled: no handle is left behind
                for handle in handles.values():
                    self.release(turn_id, handle)
                raise
        return handles

    def release(self, turn_id: int, handle: asyncio.Event) -> None:
        """Forget a handle once its answer has finished (a later stream's handle stays)."""
        gone = [entry for entry, held in self._handles.items() if entry[0] == turn_id and held is handle]
        for entry in gone:
            del self._handles[entry]
        if gone and self.shared is not None:
            self.shared.withdraw(gone)

    def stop_here(self, turn_id: int, key: str) -> bool:
        """Ask one answer streaming in this process to stop; False when it does not stream here."""
        handle = self._handles.get((turn_id, key))
        if handle is None:
            return False
        handle.set()
        return True

    async def stop(self, turn_id: int, key: str) -> bool:
        """Ask one answer to stop, here or (shared) in the process that runs it; False when no
        such answer is streaming anywhere."""
        if self.stop_here(turn_id, key):
            return True
        return self.shared is not None and await self.shared.stop(turn_id, key)


def running_streams(app: FastAPI) -> RunningStreams:
    """The app's registry, made on first use (always on the event loop, so once)."""
    streams = getattr(app.state, "running_streams", None)
    if streams is None:
        streams = app.state.running_streams = RunningStreams()
    return streams
