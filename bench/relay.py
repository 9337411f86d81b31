"""How much the arena costs on top of llama-cpp-python: the same generation both ways.

The same prompt, settings and seed (SmolLM2-135M, 128 tokens) run directly through
llama-cpp-python in this process and through a real `arena serve` process's
/api/stream_chat, alternated, several runs each. Both sides are timed at the consumer:
time to first token from the request, and tokens/s between the first and the last token.

    python bench/relay.py [--runs 5] [--tokens 128] [--threads N]

`python bench/relay.py ollama …` measures the Ollama path instead (bench/relay_ollama.py: the
protocol double read directly, through the arena, and through v3's own server).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import httpx

from arena.engines.base import Message
from arena.engines.catalog import SMOLLM2_NAME, smollm2_gguf_path
from arena.engines.embedded import default_thread_budget
from arena.engines.llama_cold import start_cold
from arena.engines.prompt_format import template_prompt

PROMPT = "Write a long, detailed story about a lighthouse keeper and a storm."
SEED = 42


@dataclass
class Timing:
    ttft_s: float
    tokens: int
    tokens_per_sec: float


def rate(first: float, last: float, pieces: int) -> float:
    return (pieces - 1) / (last - first) if pieces > 1 and last > first else 0.0


def direct_run(llm, tokens: int, threads: int) -> Timing:
    prompt = template_prompt(llm, [Message(role="user", content=PROMPT)])
    ids = llm.tokenize(prompt.text.encode(), add_bos=prompt.add_bos, special=True)
    llm._ctx.set_n_threads(threads, threads)
    # Cold, as the arena starts every answer: a reused object's prompt cache would match the
    # whole prompt of the previous run and show a first token 17-57 ms sooner than a fresh one.
    start_cold(llm)
    started = time.perf_counter()
    first = last = 0.0
    pieces = 0
    for piece in llm.create_completion(
        ids, stream=True, max_tokens=tokens, temperature=0.7, top_p=0.9, top_k=40, repeat_penalty=1.1, seed=SEED, stop=prompt.stop
    ):
        if piece["choices"][0]["text"]:
            last = time.perf_counter()
            first = first or last
            pieces += 1
    return Timing(ttft_s=first - started, tokens=pieces, tokens_per_sec=rate(first, last, pieces))


def stream_clock(client: httpx.Client, body: dict) -> tuple[float, float, float, int]:
    """One /api/stream_chat read to its end: when it was sent, its first and last token lines,
    and how many token lines came (an error line raises)."""
    started = time.perf_counter()
    first = last = 0.0
    pieces = 0
    with client.stream("POST", "/api/stream_chat", json=body) as response:
        response.raise_for_status()
        for raw in response.iter_lines():
            event = json.loads(raw)
            if event.get("token"):
                last = time.perf_counter()
                first = first or last
                pieces += 1
            elif event.get("error"):
                raise RuntimeError(event["error"])
    return started, first, last, pieces


def arena_run(client: httpx.Client, tokens: int) -> Timing:
    body = {
        "message": PROMPT,
        "model_instances": [{"model": f"local:{SMOLLM2_NAME}", "num_predict": tokens, "seed": SEED}],
    }
    started, first, last, pieces = stream_clock(client, body)
    return Timing(ttft_s=first - started, tokens=pieces, tokens_per_sec=rate(first, last, pieces))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_arena(data_dir: str, threads: int, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "ARENA_DATA_DIR": data_dir,
        "OLLAMA_HOST": "http://127.0.0.1:9",
        "ARENA_EMBEDDED_SLOTS": "1",
        "ARENA_EMBEDDED_THREADS": str(threads),
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "arena", "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("arena did not start")


def main() -> None:
    if sys.argv[1:2] == ["ollama"]:
        from bench.relay_ollama import run

        run(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=default_thread_budget(), help="generation threads, both sides")
    args = parser.parse_args()
    threads = args.threads

    from llama_cpp import Llama

    llm = Llama(model_path=str(smollm2_gguf_path()), n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False)
    with tempfile.TemporaryDirectory() as data_dir:
        process, url = start_arena(data_dir, threads)
        try:
            with httpx.Client(base_url=url, timeout=300) as client:
                direct_run(llm, 8, threads), arena_run(client, 8)  # warm both: model load, caches
                direct: list[Timing] = []
                arena: list[Timing] = []
                for _ in range(args.runs):
                    direct.append(direct_run(llm, args.tokens, threads))
                    arena.append(arena_run(client, args.tokens))
        finally:
            process.terminate()
            process.wait(timeout=30)

    def med(values: list[float]) -> float:
        return statistics.median(values)

    d_rate, a_rate = med([t.tokens_per_sec for t in direct]), med([t.tokens_per_sec for t in arena])
    d_ttft, a_ttft = med([t.ttft_s for t in direct]), med([t.ttft_s for t in arena])
    print(f"SmolLM2-135M, {args.tokens} tokens, seed {SEED}, {args.runs} alternated runs each, {threads} generation threads of {os.cpu_count()} CPUs")
    print(f"tokens per run      direct {[t.tokens for t in direct]}  arena {[t.tokens for t in arena]}")
    print(f"tokens/s (median)   direct {d_rate:8.1f}   arena {a_rate:8.1f}   arena/direct {a_rate / d_rate:.3f}  (target >= 0.98)")
    print(f"TTFT (median)       direct {d_ttft * 1000:8.1f} ms arena {a_ttft * 1000:8.1f} ms overhead {(a_ttft - d_ttft) * 1000:+.1f} ms  (target <= 5 ms)")


if __name__ == "__main__":
    main()
