"""bench/relay.py's (and bench/compare.py's) direct side starts every run cold, as the arena
does: its reused Llama object evaluates the whole prompt each time, not a cached prefix."""

from __future__ import annotations

import pytest

from arena.engines.catalog import smollm2_gguf_path
from arena.engines.llama_pool import load_llama
from bench.relay import direct_run

pytestmark = pytest.mark.timeout(60)


def test_every_direct_run_evaluates_its_whole_prompt() -> None:
    import llama_cpp

    llm = load_llama(smollm2_gguf_path(), n_ctx=512, n_threads=1)
    try:
        evaluated = []
        for _ in range(2):
            direct_run(llm, 2, 1)
            evaluated.append(llama_cpp.llama_perf_context(llm._ctx.ctx).n_p_eval)
    finally:
        llm.close()
    assert evaluated[0] > 10 and evaluated[1] == evaluated[0], "the second run did not reuse the first one's cache"
