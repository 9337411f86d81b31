"""Is a downloaded file a GGUF the embedded engine can load? Checked before a pull puts it in place.

The hub's checksum says the bytes are the hub's, not that they are a model: a repo can hold a
truncated or broken `.gguf`. We parse the whole header (engines/gguf_metadata.py's reader, then
the tensor table) and require the file to be as long as its tensor data: the data starts at the
aligned end of the header, and every tensor ends at its offset plus its size (ggml's block sizes
below; a tensor of a type not listed counts from its offset only, a lower bound).
"""

from __future__ import annotations

from pathlib import Path

from arena.engines.gguf_metadata import (
    MAX_KEY_BYTES,
    NotGguf,
    _read_value,
    _skip_value,
    _unpack,
    damaged_header_is_not_gguf,
    read_counts,
    read_text,
)

ALIGNMENT_KEY = "general.alignment"
DEFAULT_ALIGNMENT = 32
# ggml type id: (elements per block, bytes per block) — ggml.h / ggml.c's type traits.
_BLOCKS = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 36),
    10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
    24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 30: (1, 2),
}  # fmt: skip
MAX_DIMS = 4


@damaged_header_is_not_gguf
def needed_length(path: Path) -> int:
    """The bytes the file must have for its header and tensor data; NotGguf if its header is broken."""
    with path.open("rb") as handle:
        tensors, count = read_counts(handle, "it")
        alignment = DEFAULT_ALIGNMENT
        for _ in range(count):
            (length,) = _unpack(handle, "<Q")
            key = read_text(handle, length, MAX_KEY_BYTES)
            (kind,) = _unpack(handle, "<I")
            if key == ALIGNMENT_KEY:
                value = _read_value(handle, kind)
                alignment = value if isinstance(value, int) and value > 0 else DEFAULT_ALIGNMENT
            else:
                _skip_value(handle, kind)
        end = 0
        for _ in range(tensors):
            (length,) = _unpack(handle, "<Q")
            handle.seek(length, 1)
            (dims,) = _unpack(handle, "<I")
            if dims > MAX_DIMS:
                raise NotGguf(f"a tensor has {dims} dimensions")
            shape = _unpack(handle, f"<{dims}Q") if dims else ()
            kind, offset = _unpack(handle, "<IQ")
            elements = 1
            for size in shape:
                elements *= size
            block, block_bytes = _BLOCKS.get(kind, (1, 0))
            end = max(end, offset + elements // block * block_bytes)
        header = handle.tell()
    return -(-header // alignment) * alignment + end


def check_loadable(path: Path, name: str) -> None:
    """NotGguf (with a message for the user) unless `path` is a whole GGUF model file."""
    try:
        needed = needed_length(path)
    except NotGguf as exc:
        raise NotGguf(f"{name} is not a model the embedded engine can load: {exc}") from None
    have = path.stat().st_size
    if have < needed:
        raise NotGguf(
            f"{name} is not a model the embedded engine can load: it is cut short "
            f"({have:,} bytes, its header describes {needed:,})"
        )
