"""ARENA_LOG_LEVEL and ARENA_LOG_FORMAT: the arena's own log on stderr.

Text (the default): unset, nothing is configured: Python shows warnings only, and llama.cpp's
lines (DEBUG, see ``arena.engines.llama_log``) stay out of the output. Set, the ``arena``
loggers print from that level, llama.cpp's included at ``debug``.

JSON: every record of every logger (uvicorn's access and error logs too) becomes one JSON
object per line (``arena.web.observability.log_format``); the ``arena`` and ``uvicorn`` loggers
from ARENA_LOG_LEVEL (default ``info``: a line per request), other libraries from warning.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

FORMAT = "%(levelname)s %(name)s: %(message)s"
JSON_LOGGERS = ("arena", "uvicorn")


class CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes, not the one it was made with
    (a test runner swaps it per command)."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:  # StreamHandler's constructor sets it
        pass


class JsonStderr(CurrentStderr):
    """The root logger's handler in JSON mode (a class of its own, so it is found and replaced)."""


def configure_logging(level: str | None, log_format: str = "text") -> None:
    """Show the ``arena`` loggers' records from ``level`` on stderr; None leaves logging as it is
    (text), or logs from info (json)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, JsonStderr)]:
        root.removeHandler(handler)
    arena = logging.getLogger("arena")
    for handler in [h for h in arena.handlers if isinstance(h, CurrentStderr)]:
        arena.removeHandler(handler)
    if log_format == "json":
        _configure_json(level or "info")
        return
    if level is None:
        return
    handler = CurrentStderr()
    handler.setFormatter(logging.Formatter(FORMAT))
    arena.addHandler(handler)
    arena.setLevel(level.upper())


def _configure_json(level: str) -> None:
    from arena.web.observability.log_format import json_formatter  # structlog: only when asked for

    handler = JsonStderr()
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in JSON_LOGGERS:
        logging.getLogger(name).setLevel(level.upper())


def uvicorn_log_config(log_format: str) -> dict[str, Any] | None:
    """uvicorn's own logging set-up for text; None for json (its loggers then reach ours)."""
    if log_format == "json":
        return None
    from uvicorn.config import LOGGING_CONFIG

    return LOGGING_CONFIG
