"""Model ids the tests name: one spelling, shared by every folder."""

from __future__ import annotations

# The embedded engine's bundled model (SmolLM2 135M Instruct), as the arena lists it.
SMOL = "local:smollm2-135m-instruct"


def smollm2_loaded_bytes(*, n_ctx: int, slots: int = 1) -> int:
    """What the memory budget charges for SmolLM2, by hand: its file, plus per slot an f16 KV cache of
    30 layers × 3 KV heads × (64 + 64) values per token (n_ctx a multiple of 256, as llama.cpp rounds it)."""
    from arena.engines.catalog import smollm2_gguf_path

    return smollm2_gguf_path().stat().st_size + slots * 30 * 3 * (64 + 64) * n_ctx * 2


def smollm2_batched_bytes(*, n_ctx: int, slots: int = 1) -> int:
    """The same on the batched path (the default): its file, one unified KV cache of slots × n_ctx
    cells (padded to 256 as a whole) and the 256 cells of the small context kept for the tokenizer."""
    from arena.engines.catalog import smollm2_gguf_path

    cells = -(-slots * n_ctx // 256) * 256 + 256
    return smollm2_gguf_path().stat().st_size + 30 * 3 * (64 + 64) * cells * 2
