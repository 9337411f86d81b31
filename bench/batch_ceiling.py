"""What llama.cpp itself allows: N sequences in one batch against N single decodes at once.

No server: the same engine calls the arena makes, in this process, each side on fresh threads
(engines/decode_threads.py). Batched: one context steps N sequences with `--threads` threads.
Per-object (the ARENA_EMBEDDED_BATCHING=0 path): N contexts decode at once, each on its own
thread with threads // N of the threads (at least one), as the thread share gives them. Both
generate `--steps` tokens per sequence after the same prompt; tokens/s is all tokens over the
wall time, alternated run by run. bench/compare.py's ratio through the server cannot beat this.

    python bench/batch_ceiling.py [--sizes 1,2,4,6] [--threads 2] [--steps 64] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time

from arena.engines.batch.context import BatchContext
from arena.engines.batch.plan import Plan
from arena.engines.catalog import smollm2_gguf_path
from arena.engines.llama_pool import load_llama
from bench.relay import PROMPT


def new_context(slots: int, threads: int) -> BatchContext:
    return BatchContext(
        load_llama(smollm2_gguf_path(), n_ctx=256, n_threads=1), slots=slots, n_ctx=512, n_threads=threads
    )


def generate(ctx: BatchContext, prompt: list[int], n: int, steps: int) -> None:
    plan = Plan()
    plan.add_prompts({s: prompt for s in range(n)})
    ctx.decode(plan)
    for i in range(steps):
        plan = Plan()
        for s in range(n):
            plan.add_next(s, 100 + i + s, len(prompt) + i)
        ctx.decode(plan)
    for s in range(n):
        ctx.forget(s)


def timed_on_threads(jobs: list[tuple[BatchContext, int]], prompt: list[int], steps: int) -> float:
    """Seconds for every (context, sequences) job to generate, each on a new thread, all at once."""
    threads = [threading.Thread(target=generate, args=(ctx, prompt, n, steps)) for ctx, n in jobs]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,2,4,6")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    batched = new_context(max(sizes), args.threads)
    singles = [new_context(1, args.threads) for _ in range(max(sizes))]
    prompt = batched.llm.tokenize(PROMPT.encode())
    print(
        f"SmolLM2-135M, {args.steps} tokens per sequence, {args.threads} threads of {os.cpu_count()} CPUs, {args.runs} alternated runs"
    )
    print("N   one batch tok/s   N single decodes tok/s   ratio")
    for n in sizes:
        one_batch, separate = [], []
        share = max(1, args.threads // n)
        for ctx in singles[:n]:
            ctx.set_threads(share)
        for _ in range(args.runs):
            one_batch.append(n * args.steps / timed_on_threads([(batched, n)], prompt, args.steps))
            separate.append(n * args.steps / timed_on_threads([(ctx, 1) for ctx in singles[:n]], prompt, args.steps))
        on, off = statistics.median(one_batch), statistics.median(separate)
        print(f"{n:<3} {on:15.1f}   {off:22.1f}   {on / off:5.2f}")


if __name__ == "__main__":
    main()
