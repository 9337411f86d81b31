"""NDJSON lines for the streaming API, and the stop handles of the streams now running."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI

from arena.evaluation.conversation.compare import Event, FinishEvent
from arena.evaluation.conversation.view import mask_text

NDJSON = "application/x-ndjson"


def line(payload: dict[str, Any]) -> bytes:
    return (json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def event_payload(event: Event, *, label: str | None = None) -> dict[str, Any]:
    """One line for one event; with a ``label`` (a masked blind conversation) the line names
    the instance by its label alone, and an error message does not quote the model."""
    shown_id, shown_model = (label, label) if label else (event.instance_id, event.model)
    if not isinstance(event, FinishEvent):
        return {"instance_id": shown_id, "model": shown_model, "token": event.text, "done": False}
    payload: dict[str, Any] = {"instance_id": shown_id, "model": shown_model, "done": True}
    if event.metrics is not None:
        payload["metrics"] = event.metrics.to_dict()
    if event.status != "ok":
        error = event.error or event.status
        if label:
            error = mask_text(error, label=label, instance_id=event.instance_id, model=event.model) or event.status
        payload["error"] = error
        payload["status"] = event.status
    return payload


class RunningStreams:
    """Stop handles of the answers streaming now, found by (turn id, key).

    Every key a client may use for an instance (its label, and its id when nothing is
    hidden) points at the same handle. Used on the event loop only, so no lock is needed.
    """

    def __init__(self) -> None:
        self._handles: dict[tuple[int, str], asyncio.Event] = {}

    def is_running(self, turn_id: int, key: str) -> bool:
        return (turn_id, key) in self._handles

    def register(self, turn_id: int, aliases: Mapping[str, Iterable[str]]) -> dict[str, asyncio.Event]:
        """One handle per instance id (``aliases`` maps it to its keys); pass them to compare()."""
        handles = {}
        for instance_id, keys in aliases.items():
            handle = handles[instance_id] = asyncio.Event()
            for key in keys:
                self._handles[(turn_id, key)] = handle
        return handles

    def release(self, turn_id: int, handle: asyncio.Event) -> None:
        """Forget a handle once its answer has finished (a later stream's handle stays)."""
        for entry in [entry for entry, held in self._handles.items() if entry[0] == turn_id and held is handle]:
            del self._handles[entry]

    def stop(self, turn_id: int, key: str) -> bool:
        """Ask one answer to stop; False when no such answer is streaming."""
        handle = self._handles.get((turn_id, key))
        if handle is None:
            return False
        handle.set()
        return True


def running_streams(app: FastAPI) -> RunningStreams:
    """The app's registry, made on first use (always on the event loop, so once)."""
    streams = getattr(app.state, "running_streams", None)
    if streams is None:
        streams = app.state.running_streams = RunningStreams()
    return streams
