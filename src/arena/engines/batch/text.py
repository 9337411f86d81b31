"""Token pieces to text: UTF-8 split across tokens, and stop strings held back until they
either complete (generation ends before them) or cannot any more (the text goes out)."""

from __future__ import annotations

import codecs


class TextStream:
    def __init__(self, stop: list[str]) -> None:
        self.stop = [s for s in stop if s]
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._held = ""
        self.stopped = False

    def feed(self, piece: bytes) -> str:
        """The text now safe to show; sets `stopped` when a stop string completed."""
        self._held += self._decoder.decode(piece)
        for stop in self.stop:
            at = self._held.find(stop)
            if at >= 0:
                out, self._held = self._held[:at], ""
                self.stopped = True
                return out
        keep = max((_overlap(self._held, stop) for stop in self.stop), default=0)
        cut = len(self._held) - keep
        out, self._held = self._held[:cut], self._held[cut:]
        return out

    def flush(self) -> str:
        """At the end: whatever was held back (a stop string's start that never completed)."""
        if self.stopped:
            return ""
        out, self._held = self._held + self._decoder.decode(b"", final=True), ""
        return out


def _overlap(text: str, stop: str) -> int:
    """The longest end of `text` that begins `stop`."""
    for n in range(min(len(text), len(stop) - 1), 0, -1):
        if stop.startswith(text[-n:]):
            return n
    return 0
