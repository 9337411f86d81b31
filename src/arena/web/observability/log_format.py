"""ARENA_LOG_FORMAT=json: one JSON object per line, for a log stack to index.

Each line has ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, and where it is about a
request ``request_id``, ``method`` and ``user``; lines may add ``event`` (a stable name such as
``abuse.login_burst``), ``route``, ``status``, ``duration_ms``, ``model``, ``engine``, ``tokens``.
The arena's own loggers, uvicorn's access and error logs and every library's warnings all go
through `json_formatter` (structlog's formatter for standard-library records).

Never in a line: prompt or answer text, passwords, tokens, keys, cookies, query strings. The
code logs none of them; `drop_secrets` is the last guard, for a field or message that would.
An exception is logged as its type and frames, never its message (it may quote a prompt).
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any, Final

import structlog
from structlog.types import EventDict, Processor

from arena.web.observability import context

# A field whose name is, or ends in, one of these is dropped from the line.
SECRET_FIELDS: Final[tuple[str, ...]] = (
    "password", "passwd", "secret", "token", "authorization", "api_key", "apikey", "key", "cookie",
    "credentials", "prompt", "answer", "content", "messages", "text", "query", "search", "body",
)  # fmt: skip
NOT_SHOWN: Final = frozenset({"color_message"})  # uvicorn's copy of a message, with terminal colours
_QUERY = re.compile(r"\?[^\s\"']+")
QUERY_REDACTED: Final = "?[redacted]"


def add_request(_logger: Any, _name: str, event: EventDict) -> EventDict:
    """The request this line is about, if any."""
    request = context.current()
    if request is not None:
        event.setdefault("request_id", request.request_id)
        event.setdefault("method", request.method)
        user = request.user
        if user is not None:
            event.setdefault("user", user)
    return event


def exception_without_message(_logger: Any, _name: str, event: EventDict) -> EventDict:
    """``exc_info`` → ``exception``: the type and where it was raised, not what it says."""
    record = event.get("_record")
    exc_info = event.pop("exc_info", None) or (record.exc_info if record is not None else None)
    if exc_info and exc_info is not True and exc_info[1] is not None:
        exc = exc_info[1]
        frames = "".join(traceback.format_tb(exc.__traceback__)).rstrip()
        event["exception"] = f"{type(exc).__name__}\n{frames}"
    return event


def drop_secrets(_logger: Any, _name: str, event: EventDict) -> EventDict:
    """The last guard: no field named like a secret or a text, no query string in any message."""
    for name in [name for name in event if _is_secret(name) or name in NOT_SHOWN]:
        del event[name]
    for name, value in event.items():
        if isinstance(value, str) and "?" in value and name != "exception":
            event[name] = _QUERY.sub(QUERY_REDACTED, value)
    return event


def _is_secret(name: str) -> bool:
    if name.startswith("_"):  # structlog's own (_record, _from_structlog)
        return False
    normal = name.lower().replace("-", "_")
    return normal.endswith(SECRET_FIELDS)


def _record_fields(_logger: Any, _name: str, event: EventDict) -> EventDict:
    record: logging.LogRecord | None = event.get("_record")
    if record is not None:
        event["logger"] = record.name
        event["level"] = record.levelname.lower()
    return event


def json_formatter() -> structlog.stdlib.ProcessorFormatter:
    """A `logging.Formatter` that writes each record as one JSON object."""
    chain: list[Processor] = [
        structlog.processors.EventRenamer("message"),  # "event" is kept for stable event names
        _record_fields,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
        add_request,
        exception_without_message,
        drop_secrets,
    ]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=chain,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.JSONRenderer()],
    )
