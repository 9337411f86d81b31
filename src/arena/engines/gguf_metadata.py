"""Read a GGUF file's header without loading the model: is there a chat template, and the
few numbers (layers, attention heads) that say how big its KV cache is (engines/footprint.py).

A GGUF starts with its key/value metadata (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md):
magic `GGUF`, version, tensor count, key count, then each key as a string, a type and a value.
Only the keys are walked, values are skipped by their size, so even a 262,144-token vocabulary
takes a fraction of a second; the answer is cached per file version.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import lru_cache, wraps
from pathlib import Path
from typing import BinaryIO, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

CHAT_TEMPLATE_KEY = "tokenizer.chat_template"
_STRING, _ARRAY = 8, 9
# Byte sizes of the fixed-size value types (uint8 … float64, bool).
_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


# Longer than any real key or string value: a length beyond these is a damaged header, refused
# before Python tries to allocate it (a 1 TB "key" raised MemoryError out of the model list).
MAX_KEY_BYTES = 65_535  # the GGUF spec's limit for a key
MAX_STRING_BYTES = 16 * 2**20  # chat templates are kilobytes


class NotGguf(ValueError):
    """The file is not a GGUF model we can read."""


def damaged_header_is_not_gguf(read: Callable[P, R]) -> Callable[P, R]:
    """Every way a damaged header can fail a reader (a count or offset too big for a seek, a
    malformed struct) becomes NotGguf: the caller's one "unreadable" case, never a crash."""

    @wraps(read)
    def reading(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return read(*args, **kwargs)
        except (OverflowError, MemoryError, struct.error) as exc:
            raise NotGguf(f"its header is damaged ({type(exc).__name__})") from None

    return reading


def read_counts(handle: BinaryIO, subject: str) -> tuple[int, int]:
    """Past the magic and version (version 2 or 3): the tensor count and the metadata key count."""
    if handle.read(4) != b"GGUF":
        raise NotGguf(f"{subject} is not a GGUF file")
    (version,) = _unpack(handle, "<I")
    if version < 2:
        raise NotGguf(f"{subject} is GGUF version {version}, older than llama.cpp reads")
    tensors, count = _unpack(handle, "<QQ")
    return tensors, count


def read_text(handle: BinaryIO, length: int, limit: int) -> str:
    if length > limit:
        raise NotGguf(f"its header holds a {length:,}-byte string, longer than any real one")
    data = handle.read(length)
    if len(data) != length:
        raise NotGguf("the file ends inside its header")
    return data.decode("utf-8", errors="replace")


def _unpack(handle: BinaryIO, fmt: str) -> tuple[int, ...]:
    size = struct.calcsize(fmt)
    data = handle.read(size)
    if len(data) != size:
        raise NotGguf("the file ends inside its header")
    return struct.unpack(fmt, data)


def _skip_value(handle: BinaryIO, kind: int) -> None:
    if kind == _STRING:
        handle.seek(_unpack(handle, "<Q")[0], 1)
    elif kind == _ARRAY:
        element, count = _unpack(handle, "<IQ")
        if element in _FIXED:
            handle.seek(count * _FIXED[element], 1)
        else:
            for _ in range(count):
                _skip_value(handle, element)
    elif kind in _FIXED:
        handle.seek(_FIXED[kind], 1)
    else:
        raise NotGguf(f"unknown metadata type {kind}")


@damaged_header_is_not_gguf
def metadata_keys(path: Path) -> list[str]:
    """Every metadata key of a GGUF (version 2 or 3), in file order."""
    with path.open("rb") as handle:
        _tensors, count = read_counts(handle, path.name)
        keys = []
        for _ in range(count):
            (length,) = _unpack(handle, "<Q")
            keys.append(read_text(handle, length, MAX_KEY_BYTES))
            (kind,) = _unpack(handle, "<I")
            _skip_value(handle, kind)
        if handle.tell() > path.stat().st_size:  # seeking past the end does not fail by itself
            raise NotGguf("the file ends inside its header")
        return keys


@lru_cache(maxsize=256)
def _has_chat_template(path: Path, _mtime_ns: int, _size: int) -> bool | None:
    try:
        return CHAT_TEMPLATE_KEY in metadata_keys(path)
    except (OSError, NotGguf):
        return None


def has_chat_template(path: Path) -> bool | None:
    """True or False from the file's metadata; None when it cannot be read (its load will say why)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return _has_chat_template(path, stat.st_mtime_ns, stat.st_size)


# struct formats of the fixed-size value types, for reading values rather than skipping them.
_FORMATS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
GgufValue = int | float | bool | str | list[int | float | bool | str]


def _read_value(handle: BinaryIO, kind: int) -> GgufValue:
    if kind == _STRING:
        return read_text(handle, _unpack(handle, "<Q")[0], MAX_STRING_BYTES)
    if kind == _ARRAY:
        element, count = _unpack(handle, "<IQ")
        if element == _ARRAY:
            raise NotGguf("nested metadata arrays are not read")
        return [_read_value(handle, element) for _ in range(count)]  # type: ignore[misc]
    if kind in _FORMATS:
        return _unpack(handle, _FORMATS[kind])[0]
    raise NotGguf(f"unknown metadata type {kind}")


@damaged_header_is_not_gguf
def metadata_values(
    path: Path, wanted: Callable[[str], bool], *, until: Callable[[str], bool] | None = None
) -> dict[str, GgufValue]:
    """The values of the keys `wanted` accepts (those present); every other value is skipped by its
    size. `until`: stop at the first key it accepts (the rest of the header is not read)."""
    found: dict[str, GgufValue] = {}
    with path.open("rb") as handle:
        _tensors, count = read_counts(handle, path.name)
        for _ in range(count):
            (length,) = _unpack(handle, "<Q")
            key = read_text(handle, length, MAX_KEY_BYTES)
            if until is not None and until(key):
                break
            (kind,) = _unpack(handle, "<I")
            if wanted(key):
                found[key] = _read_value(handle, kind)
            else:
                _skip_value(handle, kind)
    return found
