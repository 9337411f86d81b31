"""Two identical embedded answers started together: does the first listed get a head start?

Each run starts two SmolLM2 streams of one ~300-token prompt at once (same options, different
seeds) and prints each one's time to first token and tokens/s by its place in the list. With
equal CPU shares the "first − second" TTFT difference should hover around zero; when the first
took every core as it started (before fix-speed), it was seconds ahead in every run.

    PYTHONPATH=src python bench/thread_share.py [--runs 4] [--threads N] [--tokens 24]

Measured on a 2-core machine shared with other work (so noisy), 4 runs each, before (branch
int) and after: median TTFT first − second −7.92 s then −0.32 s (24 tokens); +2.52 s, with the
first listed at 2-3× the second's tok/s in two runs, then −0.04 s (8 tokens).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from arena.engines.base import GenerationRequest, Message, SamplingOptions
from arena.engines.embedded import EmbeddedEngine

MODEL = "smollm2-135m-instruct"
PROMPT = "Summarise the following notes in two sentences.\n" + " ".join(
    f"Note {n}: the shipment of part {n * 7} arrived on day {n} and was checked by team {n % 5}." for n in range(1, 19)
)


async def one(engine: EmbeddedEngine, seed: int, tokens: int) -> tuple[float, float]:
    request = GenerationRequest(
        model=MODEL,
        messages=[Message(role="user", content=PROMPT)],
        options=SamplingOptions(num_predict=tokens, seed=seed, temperature=0.7),
    )
    started = time.perf_counter()
    first = last = None
    count = 0
    async for chunk in engine.stream(request):
        if chunk.text:
            last = time.perf_counter()
            first = first or last
        if chunk.usage:
            count = chunk.usage.completion_tokens
    assert first is not None and last is not None
    return first - started, (count - 1) / (last - first) if last > first else 0.0


async def main(runs: int, threads: int | None, tokens: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        engine = EmbeddedEngine(data_dir=root, models_dir=root, slots=2, n_ctx=1024, threads=threads)
        try:
            # Load both objects first: the runs measure generation, not loading.
            await asyncio.gather(one(engine, 1, 2), one(engine, 2, 2))
            gaps = []
            for run in range(1, runs + 1):
                (ttft_a, rate_a), (ttft_b, rate_b) = await asyncio.gather(
                    one(engine, 10 + run, tokens), one(engine, 100 + run, tokens)
                )
                gaps.append(ttft_a - ttft_b)
                print(
                    f"run {run}: first listed TTFT {ttft_a:.2f} s, {rate_a:.1f} tok/s | "
                    f"second TTFT {ttft_b:.2f} s, {rate_b:.1f} tok/s | first − second {ttft_a - ttft_b:+.2f} s"
                )
            print(f"cores {engine.cpu_count}; median TTFT first − second: {statistics.median(gaps):+.2f} s")
        finally:
            await engine.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None, help="cores to share (default: all)")
    parser.add_argument("--tokens", type=int, default=24)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.threads, args.tokens))
