"""Pieces every resource's schemas share: id patterns and bounds, ISO date-times, the error
body, and the settings that name an instance (its model and the six sampling fields)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field

CONVERSATION_ID = r"^[0-9a-f]{32}$"
MAX_ID = 2**63 - 1  # the largest integer key SQLite and PostgreSQL store
KEY = Field(min_length=1, max_length=400, description="The instance id, or its label while the conversation is blind")
ISO_DATE_START = re.compile(r"^\s*\d{4}-\d{2}-\d{2}")


def _iso_text_only(value: Any) -> Any:
    """Pydantic would read "0" or "1.5" as a Unix timestamp; the API documents ISO 8601 text only."""
    if isinstance(value, str) and not ISO_DATE_START.match(value):
        raise ValueError("expected an ISO 8601 date-time such as 2025-01-31T12:00:00Z")
    return value


# A date-time given as text (a query parameter): ISO 8601, UTC when no zone is given.
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_text_only)]


# Every error answer: `web/errors.py` renders it, `web/openapi.py` documents it.
class ErrorPublic(BaseModel):
    error: str
    detail: Any | None = None


class InstanceSettings(BaseModel):
    """An instance once it may be named: its id, its model and the six sampling fields.

    A base, never an answer on its own. Pydantic puts a base's fields first, and of several
    bases the last one's first: subclasses list it before the base whose fields lead."""

    instance_id: str
    model: str
    temperature: float
    top_p: float
    top_k: int
    repeat_penalty: float
    num_predict: int
    seed: int
