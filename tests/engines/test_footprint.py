"""A model's memory figure from its GGUF header (engines/footprint.py), without loading it."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.engines.catalog import CatalogEntry, builtin_entries, smollm2_gguf_path
from arena.engines.footprint import footprint, kv_bytes

pytestmark = pytest.mark.timeout(30)
MIB = 2**20


def test_the_kv_cache_follows_the_headers_layers_heads_and_lengths() -> None:
    llama = {
        "general.architecture": "llama",
        "llama.block_count": 30,
        "llama.embedding_length": 576,
        "llama.attention.head_count": 9,
        "llama.attention.head_count_kv": 3,
    }
    # 30 layers × 3 KV heads × (64 + 64) values × 2048 cells × 2 bytes: llama.cpp's "45.00 MiB".
    assert kv_bytes(llama, 2048) == 45 * MIB
    assert kv_bytes(llama, 300) == kv_bytes(llama, 512)  # llama.cpp rounds up to 256 cells
    explicit = {**llama, "llama.attention.key_length": 128, "llama.attention.value_length": 64}
    assert kv_bytes(explicit, 2048) == 30 * 3 * (128 + 64) * 2048 * 2
    per_layer = {
        **llama,
        "llama.block_count": 3,
        "llama.attention.head_count": [9, 0, 9],
        "llama.attention.head_count_kv": [3, 0, 1],
    }
    assert kv_bytes(per_layer, 256) == (3 + 1) * (64 + 64) * 256 * 2  # the layer without attention keeps none
    assert kv_bytes({**llama, "llama.attention.head_count_kv": None}, 256) == 30 * 9 * 128 * 256 * 2  # no GQA
    assert kv_bytes({"general.architecture": "llama"}, 2048) is None


def test_gemma_is_sized_from_its_first_chunk_before_it_is_assembled() -> None:
    gemma = next(entry for entry in builtin_entries() if entry.name == "gemma3-270m")
    size = footprint(gemma, n_ctx=2048)
    assert size is not None
    assert size.kv_bytes_per_context == 36 * MIB  # llama.cpp's own: 6 MiB (3 layers) + 30 MiB (15 SWA layers)
    assert size.weights_bytes > 200_000_000
    assert size.total(2) == size.weights_bytes + 72 * MIB


def test_an_unreadable_file_has_no_figure(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(smollm2_gguf_path().read_bytes()[:300])  # cut before its sizes
    entry = CatalogEntry(name="broken", family=None, parameter_size=None, quantization=None, path=broken)
    assert footprint(entry, n_ctx=2048) is None
