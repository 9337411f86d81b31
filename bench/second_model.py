"""One model's speed through the arena before and after a second model has answered once.

A real `arena serve` (the embedded engine, batching as configured) with SmolLM2-135M and a copy
of it under another name: SmolLM2's tokens/s through /api/stream_chat (one instance, bench/
relay.py's measure) with only it loaded, then again once the copy has answered and sits idle.
Before engines/decode_threads.py the second figure was 0.3x the first (an idle decode thread
kept its OpenMP workers, and libgomp slowed every barrier in the process).

    python bench/second_model.py [--runs 5] [--tokens 64] [--threads N] [--batching 1|0]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile

import httpx

from arena.engines.catalog import smollm2_gguf_path
from arena.engines.embedded import default_thread_budget
from bench.relay import arena_run, start_arena


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=default_thread_budget())
    parser.add_argument("--batching", default="1")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        models = os.path.join(data_dir, "models")
        os.makedirs(models)
        shutil.copy(smollm2_gguf_path(), os.path.join(models, "twin.gguf"))
        env = {"ARENA_EMBEDDED_BATCHING": args.batching, "ARENA_EMBEDDED_SLOTS": "4", "ARENA_MODELS_DIR": models}
        process, url = start_arena(data_dir, args.threads, env)
        try:
            with httpx.Client(base_url=url, timeout=600) as client:
                arena_run(client, 4)  # loads SmolLM2

                def rate() -> float:
                    return statistics.median(arena_run(client, args.tokens).tokens_per_sec for _ in range(args.runs))

                alone = rate()
                body = {"message": "Hello", "model_instances": [{"model": "local:twin", "num_predict": 4}]}
                with client.stream("POST", "/api/stream_chat", json=body) as response:
                    events = [json.loads(raw) for raw in response.iter_lines()]
                if not any(event.get("token") for event in events):
                    raise RuntimeError(f"the second model did not answer: {events}")
                beside = rate()
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(
        f"SmolLM2-135M through /api/stream_chat, {args.tokens} tokens, {args.threads} threads, batching={args.batching}"
    )
    print(f"  only it loaded                  {alone:6.1f} tok/s")
    print(f"  a second model loaded, idle     {beside:6.1f} tok/s   {beside / alone:.2f}x")


if __name__ == "__main__":
    main()
