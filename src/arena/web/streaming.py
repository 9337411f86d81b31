"""NDJSON lines for the streaming API."""

from __future__ import annotations

import json
from typing import Any

from arena.evaluation.compare import Event, FinishEvent

NDJSON = "application/x-ndjson"


def line(payload: dict[str, Any]) -> bytes:
    return (json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def event_payload(event: Event) -> dict[str, Any]:
    if not isinstance(event, FinishEvent):
        return {"instance_id": event.instance_id, "model": event.model, "token": event.text, "done": False}
    payload: dict[str, Any] = {"instance_id": event.instance_id, "model": event.model, "done": True}
    if event.metrics is not None:
        payload["metrics"] = event.metrics.to_dict()
    if event.status != "ok":
        payload["error"] = event.error or event.status
        payload["status"] = event.status
    return payload
