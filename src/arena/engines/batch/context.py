"""The model's one llama.cpp context for all its sequences, and the batch each step decodes.

The `Llama` object is kept for what it already does well (chat template, tokenizer); decoding
goes through a context of our own, built with the low-level API because `Llama` sets
`n_seq_max` only for embeddings. The KV cache is unified: `slots` sequences of `n_ctx` tokens
each share one buffer, so a prompt prefix can be held once by several sequences."""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any

from arena.engines.batch.plan import Plan
from arena.errors import EngineError

if TYPE_CHECKING:
    from llama_cpp import Llama

# The context of the Llama object kept for the template and tokenizer: it only tokenizes, so the
# smallest llama.cpp takes (its KV cache is still allocated: the memory budget counts it).
TOKENIZER_N_CTX = 256


class BatchContext:
    def __init__(self, llm: Llama, *, slots: int, n_ctx: int, n_threads: int) -> None:
        import llama_cpp

        self.llm = llm
        self.slots = slots
        self.n_ctx = n_ctx  # each sequence's
        self.capacity = slots * n_ctx
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = self.capacity
        params.n_batch = self.capacity  # a step may carry every joining prompt whole
        params.n_ubatch = min(512, self.capacity)
        params.n_seq_max = slots
        params.kv_unified = True
        params.n_threads = n_threads
        params.n_threads_batch = n_threads
        params.no_perf = True
        self.ctx = llama_cpp.llama_init_from_model(llm.model, params)
        if not self.ctx:
            raise EngineError("could not create the model's batch context (the server log says why)")
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.vocab = llama_cpp.llama_model_get_vocab(llm.model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self._batch = llama_cpp.llama_batch_init(self.capacity, 0, slots)
        self._threads = n_threads
        self._piece = ctypes.create_string_buffer(256)

    def set_threads(self, n_threads: int) -> None:
        import llama_cpp

        if n_threads != self._threads:
            llama_cpp.llama_set_n_threads(self.ctx, n_threads, n_threads)
            self._threads = n_threads

    def decode(self, plan: Plan) -> dict[int, int]:
        """Evaluate the plan's entries; for each sequence that samples now, its logits' index."""
        import llama_cpp

        batch = self._batch
        outputs: dict[int, int] = {}
        for i, entry in enumerate(plan.entries):
            batch.token[i] = entry.token
            batch.pos[i] = entry.pos
            batch.n_seq_id[i] = len(entry.seq_ids)
            for j, seq_id in enumerate(entry.seq_ids):
                batch.seq_id[i][j] = seq_id
            batch.logits[i] = entry.logits
            if entry.logits:
                outputs[entry.owner] = i
        batch.n_tokens = len(plan.entries)
        status = llama_cpp.llama_decode(self.ctx, batch)
        if status != 0:
            raise EngineError(f"llama.cpp could not decode the batch (status {status})")
        return outputs

    def sample(self, chain: Any, index: int) -> int:
        import llama_cpp

        return int(llama_cpp.llama_sampler_sample(chain, self.ctx, index))

    def is_end(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self.vocab, token))

    def piece(self, token: int) -> bytes:
        import llama_cpp

        n = llama_cpp.llama_token_to_piece(self.vocab, token, self._piece, len(self._piece), 0, False)
        if n < 0:  # a longer piece than the buffer: grow it once and ask again
            self._piece = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self.vocab, token, self._piece, len(self._piece), 0, False)
        return self._piece.raw[:n]

    def forget(self, seq_id: int) -> None:
        """Drop a sequence's tokens from the KV cache (cells shared with others stay theirs)."""
        import llama_cpp

        llama_cpp.llama_memory_seq_rm(self.memory, seq_id, -1, -1)

    def close(self) -> None:
        import llama_cpp

        if self._batch is not None:
            llama_cpp.llama_batch_free(self._batch)
            self._batch = None
        if self.ctx:
            llama_cpp.llama_free(self.ctx)
            self.ctx = None
        self.llm.close()
