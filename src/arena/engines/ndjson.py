"""Newline-delimited JSON, decoded incrementally and without I/O (the httpx way).

Feed it bytes as they arrive, in chunks of any size; it hands back each complete line as a
dict. Lines are split on bytes before any decoding, so a multi-byte UTF-8 character cut in
two by the network is reassembled before it is read.

    decoder = NDJSONDecoder()
    for chunk in chunks:
        for obj in decoder.feed(chunk):
            ...
    for obj in decoder.flush():  # a last line without its newline
        ...
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from arena.errors import EngineProtocolError

PREVIEW_CHARS = 80
DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """The start of `text`, quoted, short enough for an error message."""
    shown = text if len(text) <= limit else text[:limit] + "…"
    return repr(shown)


class NDJSONDecoder:
    """Turns a byte stream into JSON objects, one per line.

    Blank lines are skipped and `\\r\\n` endings are accepted. A line that is not a JSON
    object raises `EngineProtocolError` naming it; objects decoded before a bad line in
    the same `feed()` are returned first and the error is raised by the next call, so no
    good line is ever lost to a later bad one.
    """

    def __init__(self, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self._max_line_bytes = max_line_bytes
        self._partial = bytearray()  # the line being received, still without its newline
        self._complete: deque[bytes] = deque()  # whole lines not yet decoded

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        if b"\n" not in data:
            # The common case for long lines: only append, never rescan what we hold.
            self._partial += data
            self._check_length()
            return self._drain()
        first, *middle, rest = data.split(b"\n")
        self._complete.append(bytes(self._partial) + first)
        self._complete.extend(middle)
        self._partial = bytearray(rest)
        self._check_length()
        return self._drain()

    def flush(self) -> list[dict[str, Any]]:
        """Decode what is left at the end of the stream (a last line may lack its newline)."""
        if self._partial:
            self._complete.append(bytes(self._partial))
            self._partial.clear()
        return self._drain()

    def _check_length(self) -> None:
        if len(self._partial) > self._max_line_bytes:
            start = bytes(self._partial[:PREVIEW_CHARS]).decode("utf-8", errors="replace")
            self._partial.clear()
            raise EngineProtocolError(
                f"a line longer than {self._max_line_bytes} bytes with no newline, starting {preview(start)}"
            )

    def _drain(self) -> list[dict[str, Any]]:
        objects: list[dict[str, Any]] = []
        while self._complete:
            line = self._complete[0]
            try:
                obj = decode_line(line)
            except EngineProtocolError:
                if objects:
                    return objects  # the bad line stays queued: the next call raises
                self._complete.popleft()
                raise
            self._complete.popleft()
            if obj is not None:
                objects.append(obj)
        return objects


def decode_line(line: bytes) -> dict[str, Any] | None:
    """One line as a dict; None for a blank line."""
    if line.endswith(b"\r"):
        line = line[:-1]
    if not line.strip():
        return None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        shown = line.decode("utf-8", errors="replace")
        raise EngineProtocolError(f"a line that is not valid UTF-8: {preview(shown)}") from exc
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:  # also over-long integers and absurd nesting
        raise EngineProtocolError(f"expected a JSON object on each line, got {preview(text)}") from exc
    if not isinstance(obj, dict):
        raise EngineProtocolError(f"expected a JSON object on each line, got {preview(text)}")
    return obj
