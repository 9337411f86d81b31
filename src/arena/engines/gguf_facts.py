"""What the model list shows of a GGUF dropped into or pulled to the models folder: its family,
parameter size and quantization, from the file's own header (the bundled models have theirs
written in the catalog)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from arena.engines.gguf_metadata import NotGguf, metadata_values

_KEYS = {"general.architecture", "general.size_label", "general.file_type"}


@dataclass(frozen=True)
class GgufFacts:
    family: str | None = None  # general.architecture: llama, gemma3, qwen2, ...
    parameter_size: str | None = None  # general.size_label: 135M, 7B, 8x7B, ...
    quantization: str | None = None  # general.file_type by llama.cpp's name: Q4_K_M, Q8_0, F16, ...


def gguf_facts(path: Path) -> GgufFacts:
    """The facts the header holds; none for a file that cannot be read (its load says why)."""
    try:
        stat = path.stat()
    except OSError:
        return GgufFacts()
    return _facts(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _facts(path: Path, _mtime_ns: int, _size: int) -> GgufFacts:
    try:
        values = metadata_values(path, _KEYS.__contains__)
    except (OSError, NotGguf):
        return GgufFacts()
    family, size, file_type = (
        values.get(key) for key in ("general.architecture", "general.size_label", "general.file_type")
    )
    return GgufFacts(
        family=family if isinstance(family, str) and family else None,
        parameter_size=size if isinstance(size, str) and size else None,
        quantization=quantization_name(file_type) if isinstance(file_type, int) else None,
    )


def quantization_name(file_type: int) -> str | None:
    """llama.cpp's name for a `general.file_type` (its LLAMA_FTYPE_* constants): 15 -> Q4_K_M."""
    import llama_cpp

    for constant in dir(llama_cpp):
        if (
            constant.startswith(("LLAMA_FTYPE_MOSTLY_", "LLAMA_FTYPE_ALL_"))
            and getattr(llama_cpp, constant) == file_type
        ):
            return constant.removeprefix("LLAMA_FTYPE_").removeprefix("MOSTLY_").removeprefix("ALL_")
    return None
