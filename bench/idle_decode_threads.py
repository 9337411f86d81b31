"""What an idle thread that once decoded costs every other decode (engines/decode_threads.py).

llama.cpp with OpenMP keeps a pool of workers per thread that ran a multi-threaded decode, for as
long as that thread lives; once libgomp manages more threads than CPUs, every barrier in the
process waits almost passively. This measures one model's decode rate (SmolLM2-135M, one
sequence, `--threads` threads) alone, while another model's idle thread that once decoded still
lives (as the arena's threads did before), and after that thread has ended (as they do now).

    python bench/idle_decode_threads.py [--threads 2] [--steps 48] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections.abc import Callable

from arena.engines.batch.context import BatchContext
from arena.engines.batch.plan import Plan
from arena.engines.catalog import smollm2_gguf_path
from arena.engines.llama_pool import load_llama


def context(threads: int) -> BatchContext:
    return BatchContext(load_llama(smollm2_gguf_path(), n_ctx=256, n_threads=1), slots=1, n_ctx=512, n_threads=threads)


def decode_rate(ctx: BatchContext, steps: int) -> float:
    plan = Plan()
    plan.add_prompts({0: [1, 2, 3, 4]})
    ctx.decode(plan)
    began = time.perf_counter()
    for i in range(steps):
        plan = Plan()
        plan.add_next(0, 100 + i, 4 + i)
        ctx.decode(plan)
    ctx.forget(0)
    return steps / (time.perf_counter() - began)


def on_new_thread(work: Callable[[], float]) -> float:
    out: list[float] = []
    thread = threading.Thread(target=lambda: out.append(work()))
    thread.start()
    thread.join()
    return out[0]


def decode_then_idle(ctx: BatchContext, decoded: threading.Event, release: threading.Event) -> None:
    decode_rate(ctx, 4)
    decoded.set()
    release.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--steps", type=int, default=48)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    measured, other = context(args.threads), context(args.threads)
    alone, beside_idle, after = [], [], []
    for _ in range(args.runs):
        alone.append(on_new_thread(lambda: decode_rate(measured, args.steps)))
        # The other model decodes once on a thread that then waits, idle, as a pooled thread would.
        decoded, release = threading.Event(), threading.Event()

        idle = threading.Thread(target=decode_then_idle, args=(other, decoded, release))
        idle.start()
        decoded.wait()
        beside_idle.append(on_new_thread(lambda: decode_rate(measured, args.steps)))
        release.set()
        idle.join()
        after.append(on_new_thread(lambda: decode_rate(measured, args.steps)))
    med = statistics.median
    print(
        f"SmolLM2-135M, one sequence, {args.threads} threads of {os.cpu_count()} CPUs, {args.runs} runs (median tokens/s)"
    )
    print(f"  alone                               {med(alone):6.1f}")
    print(f"  beside another model's idle thread  {med(beside_idle):6.1f}   {med(beside_idle) / med(alone):.2f}x alone")
    print(f"  after that thread ended             {med(after):6.1f}   {med(after) / med(alone):.2f}x alone")


if __name__ == "__main__":
    main()
