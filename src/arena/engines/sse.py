"""An incremental Server-Sent-Events decoder with no I/O, after the WHATWG event-stream rules.

Feed it bytes as they arrive from the network, in chunks of any size; it returns the events
that are complete so far and keeps the rest:

    decoder = SSEDecoder()
    for chunk in chunks:
        for event in decoder.feed(chunk):
            ...
    for event in decoder.flush():  # at the end of the stream
        ...

Lines may end in `\\n`, `\\r\\n` or `\\r`, even when a chunk ends between the `\\r` and the `\\n`;
a chunk may end inside a multi-byte UTF-8 character. Bytes that are not UTF-8 become U+FFFD
rather than an exception: the caller decides whether the payload still makes sense.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, kw_only=True)
class SSEEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None  # the last event id seen on this stream, as the spec carries it over
    retry: int | None = None  # reconnection time in milliseconds, when the event set one


class SSEDecoder:
    """Turns a byte stream into `SSEEvent`s; one decoder per HTTP response."""

    def __init__(self) -> None:
        self._text_decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending: list[str] = []  # text of the line not yet ended
        self._skip_leading_lf = False  # the previous chunk ended in `\r`, which may be half of `\r\n`
        self._at_stream_start = True
        self._event_type = ""
        self._data_lines: list[str] = []
        self._retry: int | None = None
        self._last_event_id: str | None = None

    @property
    def last_event_id(self) -> str | None:
        return self._last_event_id

    def feed(self, data: bytes) -> list[SSEEvent]:
        """Decode one chunk; return the events it completed."""
        return self._feed_text(self._text_decoder.decode(data))

    def flush(self) -> list[SSEEvent]:
        """End of stream: finish any last line and event.

        The spec discards an event that lacks its closing blank line; we dispatch it, because
        some servers end their stream with `data: [DONE]` and no blank line. A truncated
        payload then fails where it is parsed, which names the real problem.
        """
        events = self._feed_text(self._text_decoder.decode(b"", final=True))
        if self._pending:
            line = "".join(self._pending)
            self._pending = []
            self._process_line(line)
        event = self._dispatch()
        if event is not None:
            events.append(event)
        return events

    def _feed_text(self, text: str) -> list[SSEEvent]:
        if not text:
            return []
        if self._at_stream_start:
            self._at_stream_start = False
            text = text.removeprefix("\ufeff")  # a byte-order mark is allowed once, at the start
        if self._skip_leading_lf:
            self._skip_leading_lf = False
            text = text.removeprefix("\n")
        if "\r" not in text and "\n" not in text:
            # No line ends here: keep the piece, join only once the line is complete.
            self._pending.append(text)
            return []
        if self._pending:
            text = "".join(self._pending) + text
            self._pending = []
        events: list[SSEEvent] = []
        start = 0
        for match in _LINE_END.finditer(text):
            event = self._process_line(text[start : match.start()])
            if event is not None:
                events.append(event)
            start = match.end()
        rest = text[start:]
        if rest:
            self._pending.append(rest)
        elif text.endswith("\r"):
            self._skip_leading_lf = True
        return events

    def _process_line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment, e.g. a keep-alive ping
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data_lines.append(value)
        elif name == "event":
            self._event_type = value
        elif name == "id":
            if "\0" not in value:  # the spec ignores ids with NUL in them
                self._last_event_id = value
        elif name == "retry":
            if value.isascii() and value.isdigit():
                self._retry = int(value)
        # Any other field name is ignored, as the spec says.
        return None

    def _dispatch(self) -> SSEEvent | None:
        data_lines, self._data_lines = self._data_lines, []
        event_type, self._event_type = self._event_type, ""
        retry, self._retry = self._retry, None
        if not data_lines:
            return None  # an event without data is not dispatched
        return SSEEvent(
            event=event_type or "message",
            data="\n".join(data_lines),
            id=self._last_event_id,
            retry=retry,
        )
