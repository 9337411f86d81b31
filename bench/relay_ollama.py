"""The Ollama path of bench/relay.py: what the arena adds on top of reading an Ollama server.

The Ollama protocol double (tests/support/doubles/ollama.py) streams a fixed reply at a fixed
pace from a process of its own. Each side reads the same answer from it, timed at the same
consumer (one asyncio httpx client): the double read directly; a real `arena serve` process
(SQLite, every turn stored) through /api/stream_chat; optionally the same arena from another
source tree (`--before-src`: the code before a change, side by side in one run); and v3's
own Flask server (`bench/v3_reference.py`, storing nothing), the reference.

Single streams alternate the sides round by round (their order rotating); the TTFT overhead
is the median of each round's difference to the direct read. Then bursts of N concurrent
2-instance streams per side (2N concurrent direct reads), alternated: aggregate tokens/s
(all tokens over the burst's wall time) and the instances' TTFT.

    python bench/relay.py ollama [--runs 40] [--tokens 64] [--token-ms 10] [--first-ms 10]
                                 [--concurrent 8] [--bursts 5] [--before-src ../main-before/src] [--no-v3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.cluster import double_process

MODEL = "llama3.2:1b"  # one of the double's installed models
PROMPT = "Write a long, detailed story about a lighthouse keeper and a storm."
BENCH = Path(__file__).resolve().parent
REPOSITORY = BENCH.parent
# Limits high enough that no request of the bench is refused; they are still checked on every request.
ARENA_SETTINGS = {
    "ARENA_RATE_LIMIT_CHAT": "100000/minute",
    "ARENA_MAX_STREAMS_PER_USER": "64",
    "ARENA_MAX_GENERATIONS": "64",
}


@dataclass
class Timing:
    ttft_s: float
    tokens: int
    last_s: float  # from the request to the last token

    @property
    def rate(self) -> float:
        gen = self.last_s - self.ttft_s
        return (self.tokens - 1) / gen if self.tokens > 1 and gen > 0 else 0.0


@dataclass
class Side:
    name: str
    url: str
    pid: int | None = None  # the server's process (None: the double, read directly)
    single_cpu_s: float = 0.0  # the server's CPU time over the single streams
    single: list[Timing] = field(default_factory=list)
    overheads: list[float] = field(default_factory=list)
    burst_rates: list[float] = field(default_factory=list)
    burst_ttfts: list[float] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen[bytes], path: str) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited ({process.returncode})")
        try:
            httpx.get(url + path, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")


def cpu_seconds(pid: int | None) -> float:
    """A process's CPU time so far (user + system), from /proc: what a request costs, however busy the machine."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(command: list[str], env: dict[str, str], ready_path: str) -> Iterator[tuple[str, int]]:
    port = free_port()
    process = subprocess.Popen(
        [*command, str(port)], env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, ready_path)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def arena_server(double: str, data_dir: str, src: Path) -> AbstractContextManager[tuple[str, int]]:
    env = {"ARENA_DATA_DIR": data_dir, "OLLAMA_HOST": double, "PYTHONPATH": str(src), **ARENA_SETTINGS}
    return server([sys.executable, "-m", "arena", "serve", "--port"], env, "/api/health")


def v3_server(double: str) -> AbstractContextManager[tuple[str, int]]:
    return server([sys.executable, str(BENCH / "v3_reference.py")], {"OLLAMA_HOST": double}, "/api/models")


def chat_body(instances: int, tokens: int) -> dict:
    return {
        "message": PROMPT,
        "model_instances": [
            {"id": f"i{n}", "model": MODEL, "temperature": 0.5 + n / 10, "num_predict": tokens}
            for n in range(instances)
        ],
    }


async def read_stream(
    client: httpx.AsyncClient, url: str, body: dict, is_token: Callable[[bytes], bool], since: float
) -> list[Timing]:
    """Every instance's timing on one stream (instances told apart by their `instance_id`)."""
    import json

    first: dict[str, float] = {}
    last: dict[str, float] = {}
    count: dict[str, int] = {}
    async with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        async for raw in response.aiter_lines():
            if not raw or not is_token(raw.encode()):
                continue
            now = time.perf_counter() - since
            event = json.loads(raw)
            if event.get("error"):
                raise RuntimeError(event["error"])
            key = event.get("instance_id", "direct")
            first.setdefault(key, now)
            last[key] = now
            count[key] = count.get(key, 0) + 1
    return [Timing(ttft_s=first[k], tokens=count[k], last_s=last[k]) for k in first]


def _is_content(raw: bytes) -> bool:
    return b'"content":""' not in raw.replace(b" ", b"") and b'"done":false' in raw.replace(b" ", b"")


def _is_token(raw: bytes) -> bool:
    squeezed = raw.replace(b" ", b"")
    return b'"type":"token"' in squeezed and b'"token":""' not in squeezed


Reader = Callable[[httpx.AsyncClient, float], Awaitable[list[Timing]]]


def request_of(side: Side, instances: int, tokens: int) -> Reader:
    """One stream of `instances` instances on `side` (the direct side: one read per instance)."""
    if side.name == "direct":
        body = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}], "options": {"num_predict": tokens}}

        async def direct(client: httpx.AsyncClient, since: float) -> list[Timing]:
            reads = [read_stream(client, side.url + "/api/chat", body, _is_content, since) for _ in range(instances)]
            return [t for timings in await asyncio.gather(*reads) for t in timings]

        return direct

    async def relayed(client: httpx.AsyncClient, since: float) -> list[Timing]:
        return await read_stream(client, side.url + "/api/stream_chat", chat_body(instances, tokens), _is_token, since)

    return relayed


async def single_round(client: httpx.AsyncClient, sides: list[Side], order: int, tokens: int) -> None:
    """One single-instance stream per side, in a rotated order; overheads against this round's direct read."""
    timings: dict[str, Timing] = {}
    for side in sides[order:] + sides[:order]:
        (timing,) = await request_of(side, 1, tokens)(client, time.perf_counter())
        timings[side.name] = timing
        side.single.append(timing)
    for side in sides:
        side.overheads.append(timings[side.name].ttft_s - timings["direct"].ttft_s)


async def burst(client: httpx.AsyncClient, side: Side, streams: int, tokens: int) -> None:
    """`streams` concurrent 2-instance streams (the direct side: 2 × streams reads)."""
    since = time.perf_counter()
    results = await asyncio.gather(*(request_of(side, 2, tokens)(client, since) for _ in range(streams)))
    timings = [t for result in results for t in result]
    wall = max(t.last_s for t in timings)
    side.burst_rates.append(sum(t.tokens for t in timings) / wall)
    side.burst_ttfts.extend(t.ttft_s for t in timings)


async def measure(sides: list[Side], args: argparse.Namespace) -> None:
    limits = httpx.Limits(max_connections=4 * args.concurrent + 8, max_keepalive_connections=4 * args.concurrent + 8)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        for side in sides:  # warm: connections, the arena's model list and caches
            for _ in range(3):
                await request_of(side, 2, 4)(client, time.perf_counter())
        for side in sides:
            side.single.clear()
            side.overheads.clear()
        cpu = {side.name: cpu_seconds(side.pid) for side in sides}
        for n in range(args.runs):
            await single_round(client, sides, n % len(sides), args.tokens)
        for side in sides:
            side.single_cpu_s = cpu_seconds(side.pid) - cpu[side.name]
        for n in range(args.bursts):
            for side in sides[n % len(sides) :] + sides[: n % len(sides)]:
                await burst(client, side, args.concurrent, args.tokens)


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(sides: list[Side], args: argparse.Namespace) -> None:
    direct = sides[0]
    print(
        f"Ollama double: {args.tokens} tokens, one every {args.token_ms:g} ms, the first after {args.first_ms:g} ms; "
        f"{args.runs} alternated single streams per side, {args.bursts} bursts of {args.concurrent} concurrent "
        f"2-instance streams; {os.cpu_count()} CPUs"
    )
    print(
        "side       TTFT p50   overhead p50 (p90)     tokens/s p50  ratio  server CPU/stream"
        " | burst tok/s p50  ratio  burst TTFT p50"
    )
    d_rate, d_burst = med([t.rate for t in direct.single]), med(direct.burst_rates)
    for side in sides:
        rate, burst_rate = med([t.rate for t in side.single]), med(side.burst_rates)
        p90 = sorted(side.overheads)[int(0.9 * (len(side.overheads) - 1))] if side.overheads else float("nan")
        print(
            f"{side.name:<9} {med([t.ttft_s for t in side.single]) * 1000:7.2f} ms"
            f"  {med(side.overheads) * 1000:+7.2f} ms ({p90 * 1000:+6.2f})"
            f"   {rate:9.1f}   {rate / d_rate:5.3f}  {side.single_cpu_s / args.runs * 1000:9.1f} ms"
            f"     | {burst_rate:12.1f}   {burst_rate / d_burst:5.3f}"
            f"   {med(side.burst_ttfts) * 1000:9.2f} ms"
        )
    names = {side.name: side for side in sides}
    if "v3" in names:
        v3 = names["v3"]
        for side in sides:
            if side.name.startswith("arena"):
                print(
                    f"{side.name} vs v3: TTFT overhead {med(side.overheads) * 1000:+.2f} ms"
                    f" vs {med(v3.overheads) * 1000:+.2f} ms (target: not above v3's);"
                    f" {args.concurrent}×2 burst tokens/s {med(side.burst_rates) / med(v3.burst_rates):.3f}× v3's"
                )


def run(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench/relay.py ollama", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="single streams per side")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--token-ms", type=float, default=10.0, help="ms between the double's tokens")
    parser.add_argument("--first-ms", type=float, default=10.0, help="ms before the double's first token")
    parser.add_argument("--concurrent", type=int, default=8, help="2-instance streams at once in a burst")
    parser.add_argument("--bursts", type=int, default=5, help="bursts per side")
    parser.add_argument(
        "--before-src", type=Path, help="also run the arena from this src/ folder (the code before a change)"
    )
    parser.add_argument("--no-v3", action="store_true", help="leave out v3's reference server")
    args = parser.parse_args(argv)
    reply = [f" word{n}" for n in range(args.tokens)]
    with ExitStack() as stack:
        double = stack.enter_context(
            double_process(reply=reply, token_delay=args.token_ms / 1000, first_token_delay=args.first_ms / 1000)
        )
        sides = [Side("direct", double)]
        arena = arena_server(double, stack.enter_context(tempfile.TemporaryDirectory()), REPOSITORY / "src")
        sides.append(Side("arena", *stack.enter_context(arena)))
        if args.before_src is not None:
            before = arena_server(double, stack.enter_context(tempfile.TemporaryDirectory()), args.before_src.resolve())
            sides.append(Side("arena-old", *stack.enter_context(before)))
        if not args.no_v3:
            sides.append(Side("v3", *stack.enter_context(v3_server(double))))
        asyncio.run(measure(sides, args))
    report(sides, args)
