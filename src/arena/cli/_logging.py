"""ARENA_LOG_LEVEL: the arena's own log on stderr, from the level asked for.

Unset, nothing is configured: Python shows warnings only, and llama.cpp's lines (DEBUG, see
``arena.engines.llama_log``) stay out of the output. Set, the ``arena`` loggers print from that
level, llama.cpp's included at ``debug``.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

FORMAT = "%(levelname)s %(name)s: %(message)s"


class CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes, not the one it was made with
    (a test runner swaps it per command)."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:  # StreamHandler's constructor sets it
        pass


def configure_logging(level: str | None) -> None:
    """Show the ``arena`` loggers' records from ``level`` on stderr; None leaves logging as it is."""
    if level is None:
        return
    logger = logging.getLogger("arena")
    if not any(isinstance(handler, CurrentStderr) for handler in logger.handlers):
        handler = CurrentStderr()
        handler.setFormatter(logging.Formatter(FORMAT))
        logger.addHandler(handler)
    logger.setLevel(level.upper())
