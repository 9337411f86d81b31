"""A team's load on several arena processes: simulated evaluators against 3 `arena serve`
processes behind nginx (https), on PostgreSQL and Redis, with the Ollama protocol double as the
engine (in a process of its own).

Each evaluator is an account with an API token that streams turns one after another. Before
each turn it sends the same prompt straight to the double, so the time to first token (TTFT)
through nginx and the arena is measured side by side with the double alone, in the same run,
under the same load; the overhead is the difference per pair. Meanwhile a prober (a process
of its own) asks /api/health/ready through nginx every 100 ms. Afterwards every accepted turn is read back from
the database: one row per answer, none left `streaming`, the text exactly what was streamed.
Each evaluator's first turn opens its connections and is checked but not timed. Evaluators
come from addresses of their own (X-Forwarded-For through nginx, which the processes trust),
as a team on its own machines; `--one-address` sends them all from one, as behind one NAT.

    python bench/load.py                    # 8 and then 64 concurrent streams
    python bench/load.py --streams 64 --turns 5
    python bench/load.py --small            # CI size: 4 streams, 2 turns each

Needs ARENA_TEST_POSTGRES_URL (a schema of its own is made and dropped), redis-server, nginx
and openssl. The processes run with the settings in `TEAM_SETTINGS` (a team raises the
per-process defaults the same way). Run from the repository root with PYTHONPATH=src:.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.cluster import (
    REPOSITORY,
    Cluster,
    cluster_env,
    database_for,
    double_process,
    evaluator_tokens,
    prepare_database,
)
from tests.support.db_fixtures import make_database
from tests.support.evaluators import Turn, stored_problems, stream_turn, turn_body
from tests.support.redis_server import RedisServer

PROCESSES = 3
# What the processes run with: every evaluator's stream fits the global budget of each process
# (nginx's least_conn may put most of them on one), and no evaluator meets the chat rate limit.
TEAM_SETTINGS = {
    "ARENA_MAX_GENERATIONS": "256",
    "ARENA_RATE_LIMIT_CHAT": "600/minute",
}
REPLY = [f" word{n}" for n in range(24)]
TOKEN_DELAY_S = 0.02
FIRST_TOKEN_DELAY_S = 0.05
HEALTH_INTERVAL_S = 0.1


@dataclass
class LevelReport:
    streams: int
    turns: list[Turn] = field(default_factory=list)
    direct_ttft_s: list[float] = field(default_factory=list)
    overhead_s: list[float] = field(default_factory=list)
    health_s: list[float] = field(default_factory=list)
    health_failures: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    baseline_failures: int = 0  # direct requests to the double that failed: not the arena's errors

    @property
    def errors(self) -> Counter[str]:
        return Counter(t.kind for t in self.turns if t.kind is not None) + self.health_failures

    def arena_ttft_s(self) -> list[float]:
        return [t.ttft_s for t in self.turns if t.ttft_s is not None]


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def ms(values: list[float]) -> str:
    return f"{percentile(values, 0.5) * 1000:7.1f} {percentile(values, 0.99) * 1000:7.1f}"


async def direct_ttft(client: httpx.AsyncClient, double_url: str, message: str) -> float | None:
    """The same prompt straight to the double: its own time to first token."""
    body = {"model": "llama3.2:1b", "messages": [{"role": "user", "content": message}], "stream": True}
    started = time.perf_counter()
    first: float | None = None
    try:
        async with client.stream("POST", f"{double_url}/api/chat", json=body, timeout=30) as response:
            async for line in response.aiter_lines():
                packed = line.replace(" ", "")
                if first is None and '"content":"' in packed and '"done":false' in packed:
                    first = time.perf_counter() - started
    except httpx.HTTPError:
        return None  # the baseline only: this pair is not timed (counted as `baseline_failures`)
    return first


def address_of(n: int) -> dict[str, str]:
    """Evaluator n's own machine, as nginx tells the arena (X-Forwarded-For, from a trusted proxy)."""
    return {"X-Forwarded-For": f"10.1.{n // 250}.{n % 250 + 1}"}


async def evaluator(
    n: int,
    turns: int,
    *,
    front: str,
    double_url: str,
    token: str,
    client: httpx.AsyncClient,
    report: LevelReport,
    one_address: bool,
) -> None:
    for k in range(turns + 1):
        message = f"Evaluator {n}, turn {k}: tell me about the sky."
        direct = await direct_ttft(client, double_url, message)
        headers = {} if one_address else address_of(n)
        turn = await stream_turn(client, front, turn_body(message), token=token, headers=headers)
        report.turns.append(turn)
        if k == 0:  # a warm-up: connections (TLS to nginx) are opened once, not measured
            continue
        if direct is None:
            report.baseline_failures += 1
        else:
            report.direct_ttft_s.append(direct)
            if turn.ttft_s is not None:
                report.overhead_s.append(turn.ttft_s - direct)


@contextmanager
def health_prober(cluster: Cluster, report: LevelReport, directory: Path) -> Iterator[None]:
    """Probe readiness through nginx from a process of its own while the block runs: the bench's
    own busy event loop must not add to the latency it reports."""
    assert cluster.front_url is not None and cluster.proxy is not None
    output = directory / f"health-{report.streams}.txt"
    with output.open("w") as sink:
        prober = subprocess.Popen(
            [sys.executable, "-c", "from bench.load import _probe_main; _probe_main()", cluster.front_url,
             str(cluster.proxy.ca_path)],
            cwd=REPOSITORY,
            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPOSITORY), os.environ.get("PYTHONPATH", "")])},
            stdin=subprocess.PIPE,
            stdout=sink,
        )  # fmt: skip
        try:
            yield
        finally:
            assert prober.stdin is not None
            prober.stdin.close()
            prober.wait(timeout=30)
    for line in output.read_text().splitlines():
        seconds, outcome = line.split()
        report.health_s.append(float(seconds))
        if outcome != "200":
            report.health_failures[f"health {outcome}"] += 1


def _probe_main() -> None:
    """The prober's process: GET /api/health/ready every HEALTH_INTERVAL_S until stdin closes,
    one line per probe: seconds and the status (or the error's name)."""
    front, ca_path = sys.argv[1], sys.argv[2]
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    with httpx.Client(verify=ssl.create_default_context(cafile=ca_path)) as client:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                outcome = str(client.get(f"{front}/api/health/ready", timeout=10).status_code)
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            print(f"{time.perf_counter() - started:.6f} {outcome}", flush=True)
            stop.wait(HEALTH_INTERVAL_S)


async def run_level(
    streams: int, turns: int, *, cluster: Cluster, double_url: str, tokens: list[str], one_address: bool
) -> LevelReport:
    report = LevelReport(streams=streams)
    with health_prober(cluster, report, cluster.directory):
        await run_evaluators(streams, turns, cluster=cluster, double_url=double_url, tokens=tokens,
                             one_address=one_address, report=report)  # fmt: skip
    database = database_for(cluster.env)
    try:
        report.lost = stored_problems(database, report.turns)
    finally:
        database.dispose()
    return report


async def run_evaluators(
    streams: int,
    turns: int,
    *,
    cluster: Cluster,
    double_url: str,
    tokens: list[str],
    one_address: bool,
    report: LevelReport,
) -> None:
    front = cluster.front_url
    assert front is not None
    limits = httpx.Limits(max_connections=2 * streams + 8, max_keepalive_connections=2 * streams + 8)
    async with httpx.AsyncClient(verify=cluster.verify, limits=limits) as client:
        started = time.perf_counter()
        try:
            await asyncio.gather(
                *(
                    evaluator(
                        n,
                        turns,
                        front=front,
                        double_url=double_url,
                        token=tokens[n],
                        client=client,
                        report=report,
                        one_address=one_address,
                    )
                    for n in range(streams)
                )
            )
        finally:
            report.elapsed_s = time.perf_counter() - started


def run_bench(
    levels: list[int],
    turns: int,
    *,
    directory: Path,
    token_delay_s: float = TOKEN_DELAY_S,
    one_address: bool = False,
) -> list[LevelReport]:
    """Start everything in `directory`, run each level of concurrent streams, stop everything."""
    redis = RedisServer(directory / "redis")
    redis.start()
    try:
        with (
            make_database("postgresql", directory / "pg", migrate=False) as schema,
            double_process(reply=REPLY, token_delay=token_delay_s, first_token_delay=FIRST_TOKEN_DELAY_S) as double,
        ):
            env = cluster_env(
                directory / "data",
                ollama_url=double,
                database_url=schema.url.render_as_string(hide_password=False),
                redis_url=redis.url,
                **TEAM_SETTINGS,
            )
            prepare_database(env)
            tokens = evaluator_tokens(env, max(levels))
            with Cluster(size=PROCESSES, directory=directory / "cluster", env=env, nginx=True) as cluster:
                return [
                    asyncio.run(
                        run_level(
                            streams, turns, cluster=cluster, double_url=double, tokens=tokens, one_address=one_address
                        )
                    )
                    for streams in levels
                ]
    finally:
        redis.stop()


def print_reports(reports: list[LevelReport], *, token_delay_s: float = TOKEN_DELAY_S) -> None:
    print(
        f"{PROCESSES} arena processes behind nginx (https), PostgreSQL, Redis; Ollama double "
        f"({len(REPLY)} tokens, {token_delay_s * 1000:.0f} ms apart, first after {FIRST_TOKEN_DELAY_S * 1000:.0f} ms)"
    )
    print(f"settings: {' '.join(f'{k}={v}' for k, v in TEAM_SETTINGS.items())}")
    print("streams  turns  secs   double TTFT ms    arena TTFT ms   overhead ms     health ms      errors  lost")
    print("                       p50     p99      p50     p99      p50     p99     p50     p99")
    for r in reports:
        print(
            f"{r.streams:7d} {len(r.turns):6d} {r.elapsed_s:5.1f} {ms(r.direct_ttft_s)}  {ms(r.arena_ttft_s())}  "
            f"{ms(r.overhead_s)} {ms(r.health_s)} {sum(r.errors.values()):7d} {len(r.lost):5d}"
        )
    for r in reports:
        examples = {t.kind: t.detail for t in r.turns if t.kind is not None}
        for kind, count in sorted(r.errors.items()):
            print(f"  {r.streams} streams: {count} × {kind}  {examples.get(kind, '')}")
        if r.baseline_failures:
            print(
                f"  {r.streams} streams: {r.baseline_failures} direct requests to the double failed (pairs not timed)"
            )
        for problem in r.lost[:10]:
            print(f"  {r.streams} streams, lost: {problem}")
    for line in target_lines(reports):
        print(line)


def target_lines(reports: list[LevelReport]) -> list[str]:
    """Issue 12's targets on a 2-core machine, each with whether this run met it."""

    def mark(met: bool) -> str:
        return "met" if met else "NOT met"

    lines = []
    for r in reports:
        clean = not r.errors and not r.lost
        lines.append(f"target: {r.streams} streams with 0 errors and 0 lost turns: {mark(clean)}")
        health = percentile(r.health_s, 0.99)
        lines.append(f"target: readiness p99 under 1 s at {r.streams} streams ({health:.3f} s): {mark(health < 1)}")
        if r.streams == 8:
            overhead = percentile(r.overhead_s, 0.5)
            lines.append(f"target: TTFT overhead p50 <= 25 ms at 8 streams ({overhead * 1000:.1f} ms): "
                         f"{mark(overhead <= 0.025)}")  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", default="8,64", help="concurrent evaluators, one level after another (8,64)")
    parser.add_argument("--turns", type=int, default=3, help="timed turns each evaluator streams, after a warm-up")
    parser.add_argument("--token-ms", type=float, default=TOKEN_DELAY_S * 1000, help="ms between the double's tokens")
    parser.add_argument(
        "--one-address", action="store_true", help="every evaluator from one address (a team behind one NAT)"
    )
    parser.add_argument("--small", action="store_true", help="CI size: 4 streams, 2 turns each")
    args = parser.parse_args(argv)
    levels = [4] if args.small else [int(s) for s in args.streams.split(",")]
    turns = 2 if args.small else args.turns
    with tempfile.TemporaryDirectory(prefix="arena-load-") as directory:
        reports = run_bench(
            levels, turns, directory=Path(directory), token_delay_s=args.token_ms / 1000, one_address=args.one_address
        )
    print_reports(reports, token_delay_s=args.token_ms / 1000)
    failed = any(r.errors or r.lost for r in reports)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
