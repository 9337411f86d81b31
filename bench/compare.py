"""Continuous batching against the per-object path: N instances of one model in one comparison.

Two real `arena serve` processes, one with ARENA_EMBEDDED_BATCHING=1 and one with =0, answer
the same /api/stream_chat request (N instances of SmolLM2-135M at different temperatures, the
same seeds), alternated run by run. Aggregate tokens/s is every instance's tokens over the time
from the request to the last token. For N=1 it also compares the batched arena with
llama-cpp-python directly (bench/relay.py's measurement): relay ratio and first-token overhead.

    python bench/compare.py [--runs 3] [--tokens 64] [--threads N] [--sizes 1,2,4,6] [--cpu]
                            [--before-src ../main-before/src]

--before-src adds a third server run from another source tree, as bench/relay_ollama.py does:
the code before batching (`git worktree add ../main-before cd717bc`, the last commit before it)
is the issue's "today's path", measured in the same run rather than quoted.

On a machine shared with other work the wall clock through two servers is mostly noise; --cpu
adds what does not depend on it: the engine's CPU time per token (this thread's clock), N
sequences in one batch against N decodes of a `Llama` object one after another.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from arena.engines.catalog import SMOLLM2_NAME, smollm2_gguf_path
from arena.engines.embedded import default_thread_budget
from bench.relay import PROMPT, SEED, direct_run, rate, start_arena, stream_clock

TEMPERATURES = (0.2, 0.5, 0.7, 0.9, 1.1, 1.3)


def aggregate_run(client: httpx.Client, n: int, tokens: int) -> tuple[float, float, float]:
    """One comparison of n instances: aggregate tokens/s (from the request), tokens/s between
    the first and the last token (relay.py's measure), and the first token's seconds."""
    body = {
        "message": PROMPT,
        "model_instances": [
            {"model": f"local:{SMOLLM2_NAME}", "num_predict": tokens, "seed": SEED + i, "temperature": TEMPERATURES[i]}
            for i in range(n)
        ],
    }
    started, first, last, pieces = stream_clock(client, body)
    return pieces / (last - started), rate(first, last, pieces), first - started


def cpu_per_token(sizes: list[int], steps: int = 16, runs: int = 3) -> None:
    """CPU seconds per generated token: one batched step of n sequences against n single decodes."""
    from arena.engines.batch.context import BatchContext
    from arena.engines.batch.plan import Plan
    from arena.engines.llama_pool import load_llama

    llm = load_llama(smollm2_gguf_path(), n_ctx=2048, n_threads=1)
    prompt = llm.tokenize(PROMPT.encode())
    context = BatchContext(load_llama(smollm2_gguf_path(), n_ctx=256, n_threads=1), slots=max(sizes), n_ctx=2048, n_threads=1)
    single: list[float] = []
    for _ in range(runs):
        llm.reset()
        llm.eval(prompt)
        began = time.thread_time()
        for i in range(steps):
            llm.eval([100 + i])
        single.append((time.thread_time() - began) / steps)
    one = statistics.median(single)
    print(f"engine CPU per token, 1 thread: a Llama object {one * 1000:.2f} ms")
    for n in sizes:
        batched: list[float] = []
        for _ in range(runs):
            plan = Plan()
            plan.add_prompts({s: prompt for s in range(n)})
            context.decode(plan)
            began = time.thread_time()
            for i in range(steps):
                plan = Plan()
                for s in range(n):
                    plan.add_next(s, 100 + i + s, len(prompt) + i)
                context.decode(plan)
            batched.append((time.thread_time() - began) / steps / n)
            for s in range(n):
                context.forget(s)
        per = statistics.median(batched)
        print(f"  N={n}: batched {per * 1000:.2f} ms per token, {one / per:.2f}x the Llama object")
    context.close()
    llm.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=default_thread_budget(), help="generation threads, every side")
    parser.add_argument("--sizes", default="1,2,4,6", help="instance counts to measure")
    parser.add_argument("--cpu", action="store_true", help="also the engine's CPU time per token")
    parser.add_argument("--before-src", type=Path, help="also a server run from this src/ folder (the code before batching)")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    if args.cpu:
        cpu_per_token(sizes)
    slots = str(max(sizes))

    from llama_cpp import Llama

    llm = Llama(model_path=str(smollm2_gguf_path()), n_ctx=2048, n_threads=args.threads, n_threads_batch=args.threads, verbose=False)
    rates: dict[tuple[str, int], list[float]] = {}
    relayed: dict[str, list[float]] = {}
    firsts: dict[tuple[str, int], list[float]] = {}
    direct_rates: list[float] = []
    direct_firsts: list[float] = []
    with (
        tempfile.TemporaryDirectory() as on_dir,
        tempfile.TemporaryDirectory() as off_dir,
        tempfile.TemporaryDirectory() as before_dir,
    ):
        servers = {
            "batched": start_arena(on_dir, args.threads, {"ARENA_EMBEDDED_BATCHING": "1", "ARENA_EMBEDDED_SLOTS": slots}),
            "per-object": start_arena(off_dir, args.threads, {"ARENA_EMBEDDED_BATCHING": "0", "ARENA_EMBEDDED_SLOTS": slots}),
        }
        if args.before_src is not None:
            before_env = {"PYTHONPATH": str(args.before_src.resolve()), "ARENA_EMBEDDED_SLOTS": slots}
            servers["before"] = start_arena(before_dir, args.threads, before_env)
        clients = {name: httpx.Client(base_url=url, timeout=600) for name, (_, url) in servers.items()}
        try:
            for client in clients.values():  # warm: load the model (and, per-object, every object)
                aggregate_run(client, max(sizes), 4)
            direct_run(llm, 4, args.threads)
            for _ in range(args.runs):
                for n in sizes:
                    for name, client in clients.items():
                        aggregate, between, first = aggregate_run(client, n, args.tokens)
                        rates.setdefault((name, n), []).append(aggregate)
                        firsts.setdefault((name, n), []).append(first)
                        if n == 1:
                            relayed.setdefault(name, []).append(between)
                        print(f"  N={n} {name}: {aggregate:.1f} tok/s aggregate, first token {first * 1000:.0f} ms", flush=True)
                if 1 in sizes:
                    timing = direct_run(llm, args.tokens, args.threads)
                    direct_rates.append(timing.tokens_per_sec)
                    direct_firsts.append(timing.ttft_s)
        finally:
            for client in clients.values():
                client.close()
            for process, _ in servers.values():
                process.terminate()
                process.wait(timeout=30)

    med = statistics.median
    print(
        f"SmolLM2-135M, {args.tokens} tokens per instance, {args.runs} alternated runs, "
        f"{args.threads} generation threads of {os.cpu_count()} CPUs"
    )
    before = "   before tok/s   ratio" if args.before_src else ""
    print(f"N   batched tok/s   per-object tok/s   ratio{before}   (target N=4 >= 1.7)")
    for n in sizes:
        on, off = med(rates[("batched", n)]), med(rates[("per-object", n)])
        line = f"{n:<3} {on:13.1f}   {off:16.1f}   {on / off:5.2f}"
        if args.before_src:
            then = med(rates[("before", n)])
            line += f"   {then:12.1f}   {on / then:5.2f}"
        print(line)
    if 1 in sizes:
        # The relay measure of bench/relay.py: tokens/s between the first and the last token. Each
        # run's arena figures are paired with the direct run right after them (the machine's pace
        # drifts between runs): the medians of the paired ratios and differences.
        def paired_ratio(name: str) -> float:
            return med(arena / direct for arena, direct in zip(relayed[name], direct_rates, strict=True))

        def paired_overhead_ms(name: str) -> float:
            return med(arena - direct for arena, direct in zip(firsts[(name, 1)], direct_firsts, strict=True)) * 1000

        print(
            f"N=1 relay: llama-cpp-python direct {med(direct_rates):.1f} tok/s; batched arena "
            f"{med(relayed['batched']):.1f}, paired ratio {paired_ratio('batched'):.3f} (target >= 0.98); "
            f"per-object arena {med(relayed['per-object']):.1f}, paired ratio {paired_ratio('per-object'):.3f}"
        )
        print(
            f"N=1 TTFT: batched {med(firsts[('batched', 1)]) * 1000:.1f} ms, per-object "
            f"{med(firsts[('per-object', 1)]) * 1000:.1f} ms, direct {med(direct_firsts) * 1000:.1f} ms; overhead vs "
            f"direct (median of paired differences) batched {paired_overhead_ms('batched'):+.1f} ms (target <= 5 ms), "
            f"per-object {paired_overhead_ms('per-object'):+.1f} ms"
        )


if __name__ == "__main__":
    main()
