"""Text files attached to a prompt: which are accepted, and how they reach the model.

A file is accepted when its name has a text extension, it is no larger than the configured
limit, and its bytes are UTF-8 with no NUL byte (a NUL almost always means a binary file
renamed). The model sees each file as a fenced block named by its file name, after the
user's own text; the turn stores the files apart from that text, so the conversation shows
what the person typed while every later prompt (and a regenerate) still holds the files.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, Final

from arena.errors import InvalidInput, TooLarge, UnsupportedContent

ALLOWED_EXTENSIONS: Final = frozenset(
    """
    .txt .text .md .markdown .rst .adoc .tex .log .csv .tsv .json .jsonl .ndjson .yaml .yml .toml .ini .cfg
    .conf .properties .xml .html .htm .css .scss .sass .less .svg .sql .graphql .proto
    .py .pyi .ipynb .js .mjs .cjs .jsx .ts .tsx .vue .svelte .sh .bash .zsh .fish .ps1 .bat .cmd
    .rs .go .java .kt .kts .scala .groovy .gradle .c .h .cpp .cc .cxx .hpp .hh .cs .fs .swift .m .mm
    .rb .php .pl .pm .lua .r .jl .dart .ex .exs .erl .hrl .hs .ml .mli .clj .cljs .elm .nim .zig .v
    .diff .patch .dockerfile .makefile .cmake .mk .tf .hcl .nix .lock .srt .vtt
    """.split()
)
# Text files that commonly have no extension at all.
ALLOWED_NAMES: Final = frozenset({"makefile", "dockerfile", "license", "readme", "changelog", "gemfile", "procfile"})
MAX_FILENAME_LENGTH: Final = 255
# Characters that reorder or hide text: "invoice\u202etxt.exe" shows as "invoiceexe.txt".
BIDI_CONTROLS: Final = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
MAX_ATTACHMENTS: Final = 20


class AttachmentTooLarge(TooLarge):
    """The file is larger than ARENA_MAX_UPLOAD_BYTES."""


class AttachmentNotText(UnsupportedContent):
    """The file is not a text file the arena accepts (its extension, a NUL byte, not UTF-8)."""


@dataclass(frozen=True, kw_only=True)
class Attachment:
    filename: str
    text: str

    @property
    def size(self) -> int:
        """Bytes of UTF-8, as the file had on disk."""
        return len(self.text.encode("utf-8"))

    def meta(self) -> dict[str, Any]:
        """What a turn stores: name and size for people, the text for later prompts."""
        return {"filename": self.filename, "size": self.size, "text": self.text}


def clean_filename(raw: str) -> str:
    """The file's own name (no folders), with a text extension; else AttachmentNotText."""
    # Browsers on Windows may send a full path; keep the last part of either kind.
    name = PureWindowsPath(PurePosixPath(raw.strip()).name).name.strip()
    if not name or name in (".", ".."):
        raise InvalidInput("the attachment has no file name")
    if len(name) > MAX_FILENAME_LENGTH:
        raise InvalidInput(f"the file name is {len(name)} characters long; at most {MAX_FILENAME_LENGTH} are allowed")
    _check_characters(name)
    lowered = name.lower()
    suffix = PurePosixPath(lowered).suffix
    if lowered not in ALLOWED_NAMES and suffix not in ALLOWED_EXTENSIONS:
        shown = suffix or "no extension"
        raise AttachmentNotText(
            f"'{name}' is not a text file the arena accepts ({shown}); attach source code or text such as "
            ".txt, .md, .py, .js, .json, .csv, .yaml, .html or .log"
        )
    return name


def _check_characters(name: str) -> None:
    """No character that hides what the name says: controls (C0, DEL, C1), line separators,
    and the bidirectional-text controls that can disguise an extension."""
    for ch in name:
        if ch in BIDI_CONTROLS:
            raise InvalidInput(
                f"the file name contains the bidirectional-text control U+{ord(ch):04X}, which can disguise "
                "its extension; rename the file"
            )
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            raise InvalidInput(f"the file name contains the control character U+{ord(ch):04X}; rename the file")


def _check_size(name: str, size: int, *, max_bytes: int) -> None:
    if size > max_bytes:
        raise AttachmentTooLarge(
            f"'{name}' is {size:,} bytes; attachments may be at most {max_bytes:,} bytes (ARENA_MAX_UPLOAD_BYTES)"
        )


def read_upload(*, filename: str, data: bytes, max_bytes: int, size: int | None = None) -> Attachment:
    """Check an uploaded file's name, size and bytes, and decode it.

    ``size`` is the whole file's size when ``data`` was cut short past the limit.
    """
    name = clean_filename(filename)
    _check_size(name, max(len(data), size or 0), max_bytes=max_bytes)
    if b"\x00" in data:
        raise AttachmentNotText(f"'{name}' contains NUL bytes, so it looks like a binary file, not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AttachmentNotText(
            f"'{name}' is not UTF-8 text (byte {exc.start} cannot be decoded); save it as UTF-8 and attach it again"
        ) from exc
    return Attachment(filename=name, text=text.removeprefix("\ufeff"))


def check_attachment(*, filename: str, text: str, max_bytes: int) -> Attachment:
    """The same rules for a file sent as text inside a chat request."""
    name = clean_filename(filename)
    if "\x00" in text:
        raise AttachmentNotText(f"'{name}' contains NUL characters, so it looks like a binary file, not text")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:  # a lone surrogate from a JSON \ud800 escape
        raise AttachmentNotText(f"'{name}' is not valid Unicode text") from exc
    _check_size(name, size, max_bytes=max_bytes)
    return Attachment(filename=name, text=text)


def check_attachments(files: Sequence[tuple[str, str]], *, max_bytes: int) -> list[Attachment]:
    """Every (filename, text) of a request, checked; at most MAX_ATTACHMENTS."""
    if len(files) > MAX_ATTACHMENTS:
        raise InvalidInput(f"{len(files)} files attached; at most {MAX_ATTACHMENTS} are allowed per message")
    return [check_attachment(filename=name, text=text, max_bytes=max_bytes) for name, text in files]


def _fence(text: str) -> str:
    """A backtick fence longer than any run of backticks inside the text."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def compose_message(text: str, attachments: Iterable[Attachment]) -> str:
    """The user's text, then each file as a fenced block whose info string is its name."""
    parts = [text] if text.strip() else []
    for attachment in attachments:
        fence = _fence(attachment.text)
        body = attachment.text if attachment.text.endswith("\n") or not attachment.text else attachment.text + "\n"
        parts.append(f"{fence}{attachment.filename}\n{body}{fence}")
    return "\n\n".join(parts)


def from_stored(meta: list[dict[str, Any]] | None) -> list[Attachment]:
    """The attachments a turn stored (entries without text, from older records, are skipped)."""
    return [
        Attachment(filename=str(item["filename"]), text=item["text"])
        for item in meta or []
        if isinstance(item, dict) and isinstance(item.get("text"), str) and item.get("filename")
    ]


def public_meta(meta: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Name and size only, as the conversation detail shows them."""
    return [
        {"filename": str(item.get("filename", "")), "size": int(item.get("size") or 0)}
        for item in meta or []
        if isinstance(item, dict)
    ]
