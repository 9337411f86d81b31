"""A llama.cpp sampler chain per sequence, in the order llama-cpp-python's own path builds it:
repeat penalty, grammar (judges), top-k, top-p, min-p, temperature, then a seeded draw."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from arena.engines.base import SamplingOptions
from arena.errors import EngineRejected

# How many earlier tokens the repeat penalty looks at (llama-cpp-python's last_n_tokens_size).
PENALTY_LAST_N = 64
# llama-cpp-python's create_completion applies min_p=0.05 unasked; the batched path keeps it,
# as a named engine setting the instance's card shows (embedded.ENGINE_SETTINGS).
MIN_P = 0.05


@dataclass(frozen=True, kw_only=True)
class ChainSettings:
    options: SamplingOptions
    min_p: float = MIN_P
    json_schema: dict[str, Any] | None = None

    def seed(self) -> int:
        return self.options.seed or secrets.randbelow(2**31 - 1) + 1


def grammar_text(json_schema: dict[str, Any]) -> str:
    """The GBNF grammar for a JSON schema, as llama-cpp-python converts it."""
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_json_schema(json.dumps(json_schema), verbose=False)._grammar


def build_chain(vocab: Any, n_vocab: int, settings: ChainSettings) -> Any:
    """A new sampler chain (the caller frees it with `free_chain`)."""
    import llama_cpp

    options = settings.options
    params = llama_cpp.llama_sampler_chain_default_params()
    params.no_perf = True
    chain = llama_cpp.llama_sampler_chain_init(params)
    add = llama_cpp.llama_sampler_chain_add
    try:
        add(chain, llama_cpp.llama_sampler_init_penalties(n_vocab, PENALTY_LAST_N, options.repeat_penalty, 0.0, 0.0))
        if settings.json_schema:
            grammar = llama_cpp.llama_sampler_init_grammar(
                vocab, grammar_text(settings.json_schema).encode("utf-8"), b"root"
            )
            if not grammar:
                raise EngineRejected("the answer's JSON schema could not be turned into a grammar")
            add(chain, grammar)
        add(chain, llama_cpp.llama_sampler_init_top_k(options.top_k))
        add(chain, llama_cpp.llama_sampler_init_top_p(options.top_p, 1))
        add(chain, llama_cpp.llama_sampler_init_min_p(settings.min_p, 1))
        add(chain, llama_cpp.llama_sampler_init_temp(options.temperature))
        add(chain, llama_cpp.llama_sampler_init_dist(settings.seed()))
    except BaseException:
        free_chain(chain)
        raise
    return chain


def free_chain(chain: Any) -> None:
    import llama_cpp

    if chain:
        llama_cpp.llama_sampler_free(chain)
