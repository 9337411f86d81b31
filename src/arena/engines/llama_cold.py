"""Every generation on a reused `Llama` object starts cold, so first-token times compare like with like
(the embedded engine's per-object path, and the benchmarks' direct side)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llama_cpp import Llama


def start_cold(llm: Llama) -> None:
    """Forget the tokens an earlier request left in this object: llama-cpp-python would reuse
    their shared prefix, and a repeated prompt would show a first token 10-100x sooner. Every
    generation starts from the same (empty) cache, so first-token times compare like with like."""
    import llama_cpp

    llm.reset()  # no prefix to match: create_completion evaluates the whole prompt again
    llama_cpp.llama_perf_context_reset(llm._ctx.ctx)


def prompt_s(llm: Llama) -> float | None:
    """llama.cpp's own prompt-processing time for this generation, when it can be read."""
    try:
        import llama_cpp

        return round(llama_cpp.llama_perf_context(llm._ctx.ctx).t_p_eval_ms / 1000.0, 4)
    except Exception:  # a version without the counters: unknown, not zero
        return None
