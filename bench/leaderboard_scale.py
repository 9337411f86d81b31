"""Benchmark: GET /api/leaderboard over a million stored votes and verdicts, beside derive-on-read.

    PYTHONPATH=src:. python bench/leaderboard_scale.py [--size 1000000] [--derived-size 20000]
        [--database-url URL] [--repeats 3] [--data-dir DIR]

Seeding (through the storage layer's tables, in bulk): 16 models (4 of them at a second setting
too) with known strengths; half the rows are human pairwise votes (one-turn conversations, ten
voters each), half are pairwise verdicts of benchmark runs by three judges in five categories,
outcomes drawn from the Bradley–Terry truth, times spread over a year. Rows go in with
``insert()`` batches; the stored battles are then built by ``battles.rebuild`` (migration
0022's backfill, the same rules every vote and verdict goes through one by one).

Timing: a real ``arena serve`` child process on that database, timed end to end over HTTP
(httpx), for the default view, source, judge and category filters, a date range and the
by-instance view; the first request of each view and the best of ``--repeats`` after it.
Beside it, in the same run, today's path before the stored battles (``derived_standings``:
every battle derived on read) at ``--derived-size`` rows, called in process, and the stored
path at that same size; its figure at full size is extrapolated linearly (it is linear in rows).
Then GET /api/judges (first and repeated) and ``style_control=true`` over every battle (refused
at this size from the stored count). ``--data-dir`` times a directory seeded before instead of
seeding again (``--size`` is then only the label).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import insert

from arena.evaluation.ratings.standings import derived_standings
from arena.evaluation.ratings.stored import stored_standings
from arena.storage import battles as battle_store
from arena.storage.bench_models import BenchRun
from arena.storage.db import Database
from arena.storage.models import Conversation, Instance, Judgment, Turn, Vote
from tests.support.process import arena_process

MODELS = [f"ollama:model-{n:02d}" for n in range(16)]
JUDGES = ["ollama:judge-a", "ollama:judge-b", "ollama:judge-c"]
CATEGORIES = ["coding", "writing", "math", "reasoning", "chat"]
VOTERS = 10
BATCH = 20_000
START = datetime(2026, 1, 1, tzinfo=UTC)
VIEWS: dict[str, dict[str, str]] = {
    "default": {},
    "source=human": {"source": "human"},
    "source=judge": {"source": "judge"},
    "judge_model": {"judge_model": JUDGES[0]},
    "category": {"category": "coding"},
    "date range": {"since": "2026-03-01T00:00:00", "until": "2026-09-01T00:00:00"},
    "by=instance": {"by": "instance"},
}


def _instances() -> list[dict[str, Any]]:
    settings = [(model, 0.7) for model in MODELS] + [(model, 0.2) for model in MODELS[:4]]
    return [
        {"id": f"{model}@t={t}", "model": model, "temperature": t, "top_p": 0.9, "top_k": 40,
         "repeat_penalty": 1.1, "num_predict": 256, "seed": 0, "created_at": START}
        for model, t in settings
    ]  # fmt: skip


def _outcomes(rng: np.random.Generator, truth: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """0 a won, 1 b won, 2 tie, 3 both bad; the expected score is the Bradley–Terry one."""
    p = 1.0 / (1.0 + 10.0 ** ((truth[b] - truth[a]) / 400.0))
    tie = 0.3 * 4.0 * p * (1.0 - p)
    draw = rng.random(a.size)
    won = np.where(draw < p - tie / 2, 0, np.where(draw < p + tie / 2, 2, 1))
    return np.where((won == 2) & (rng.random(a.size) < 0.3), 3, won)


def _insert(database: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    with database.session() as session:
        for start in range(0, len(rows), BATCH):
            session.execute(insert(table), rows[start : start + BATCH])


def seed(database: Database, *, size: int, seed: int = 0) -> None:
    """``size`` rows of votes and verdicts (half each), then the stored battles built from them."""
    rng = np.random.default_rng(seed)
    instances = _instances()
    truth = rng.normal(1000.0, 150.0, len(instances))
    _insert(database, Instance, instances)
    ids = [i["id"] for i in instances]
    conversations = max(1, size // 2 // VOTERS)
    a = rng.integers(0, len(ids), conversations)
    b = (a + rng.integers(1, len(ids), conversations)) % len(ids)
    days = rng.random(conversations) * 365
    conversation_ids = [uuid.uuid4().hex for _ in range(conversations)]
    times = [START + timedelta(days=float(d)) for d in days]
    _insert(database, Conversation, [
        {"id": cid, "title": "t", "blind": False, "created_at": at, "updated_at": at, "imported": False}
        for cid, at in zip(conversation_ids, times, strict=True)
    ])  # fmt: skip
    _insert(database, Turn, [
        {"id": n + 1, "conversation_id": cid, "index": 0, "user_text": "q", "created_at": at}
        for n, (cid, at) in enumerate(zip(conversation_ids, times, strict=True))
    ])  # fmt: skip
    votes = []
    value = ["A", "B", "tie", "both_bad"]
    for voter in range(1, VOTERS + 1):
        outcome = _outcomes(rng, truth, a, b)
        votes += [
            {"conversation_id": conversation_ids[n], "turn_id": n + 1, "kind": "pairwise", "value": value[outcome[n]],
             "instance_a": ids[a[n]], "instance_b": ids[b[n]], "voter_id": voter, "imported": False,
             "created_at": times[n] + timedelta(seconds=voter)}
            for n in range(conversations)
        ]  # fmt: skip
    _insert(database, Vote, votes)
    del votes
    verdicts = size - conversations * VOTERS
    runs = [uuid.uuid4().hex for _ in range(4)]
    _insert(database, BenchRun, [
        {"id": run, "name": "scale", "status": "done", "prompt_set_name": "scale", "prompt_set_sha256": "0" * 64,
         "prompt_count": 1, "instances": [{"instance_id": i} for i in ids], "repeats": 1, "concurrency": 1,
         "seed": 0, "environment": [], "cancel_requested": False, "created_at": START}
        for run in runs
    ])  # fmt: skip
    a = rng.integers(0, len(ids), verdicts)
    b = (a + rng.integers(1, len(ids), verdicts)) % len(ids)
    outcome = _outcomes(rng, truth, a, b)
    winner = ["a", "b", "tie", "tie"]
    days = rng.random(verdicts) * 365
    judge = rng.integers(0, len(JUDGES), verdicts)
    category = rng.integers(0, len(CATEGORIES), verdicts)
    _insert(database, Judgment, [
        {"run_id": runs[n % len(runs)], "judge_model": JUDGES[judge[n]], "cloud": False, "mode": "pairwise",
         "category": CATEGORIES[category[n]], "key_a": ids[a[n]], "key_b": ids[b[n]], "raw_ab": "{}", "raw_ba": "{}",
         "verdict_ab": "A", "verdict_ba": "A", "winner": winner[outcome[n]], "consistent": outcome[n] < 2,
         "created_at": START + timedelta(days=float(days[n]))}
        for n in range(verdicts)
    ])  # fmt: skip
    with database.session() as session:
        battle_store.rebuild(session)


def _timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _seeded(directory: Path, *, size: int, url: str | None) -> tuple[Database, float]:
    database = Database(url=url or f"sqlite:///{directory / 'arena.db'}")
    database.migrate()
    return database, _timed(lambda: seed(database, size=size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="stored votes + verdicts")
    parser.add_argument("--derived-size", type=int, default=20_000, help="rows for the derive-on-read comparison")
    parser.add_argument("--database-url", default=None, help="an empty PostgreSQL database (default: SQLite)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="time a data directory seeded before (its arena.db) instead"
    )
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as small_dir:
        small, seconds = _seeded(Path(small_dir), size=options.derived_size, url=None)
        derived = min(_timed(lambda: derived_standings(small)) for _ in range(options.repeats))
        stored = min(_timed(lambda: stored_standings(small)) for _ in range(options.repeats))
        small.dispose()
    print(f"in process, {options.derived_size:,} votes + verdicts (seeded in {seconds:.1f} s), default view:")
    print(f"  derive on read {derived:7.2f} s   stored battles {stored:7.2f} s   ratio {derived / stored:5.1f}x")
    print(f"  derive on read extrapolated to {options.size:,}: ~{derived * options.size / options.derived_size:.0f} s")

    if options.data_dir is not None:  # seeded before (SQLite): time it as it is
        _time_http(options.data_dir, options, env={})
        return
    with tempfile.TemporaryDirectory() as data_dir:
        database, seconds = _seeded(Path(data_dir), size=options.size, url=options.database_url)
        database.dispose()
        print(f"seeded {options.size:,} votes + verdicts and built the stored battles in {seconds:.0f} s")
        _time_http(Path(data_dir), options, env={"DATABASE_URL": options.database_url} if options.database_url else {})


def _time_http(data_dir: Path, options: argparse.Namespace, *, env: dict[str, str]) -> None:
    with (
        arena_process(data_dir, env=env) as (_process, url),
        httpx.Client(base_url=url, timeout=600) as client,
    ):
        # The app reads the common views' online Elo in the background from startup: the first
        # request waits for what is left of that (timed from the moment the server answers).
        print(f"GET /api/leaderboard end to end over HTTP, real `arena serve`, {options.size:,} rows:")
        for name, params in VIEWS.items():

            def get(params: dict[str, str] = params) -> None:
                response = client.get("/api/leaderboard", params=params)
                response.raise_for_status()

            first = _timed(get)
            best = min(_timed(get) for _ in range(options.repeats))
            print(f"  {name:<14} first {first:6.2f} s   best of {options.repeats} {best:6.2f} s")

        def judges() -> None:
            client.get("/api/judges").raise_for_status()

        first = _timed(judges)
        best = min(_timed(judges) for _ in range(options.repeats))
        print(f"GET /api/judges        first {first:6.2f} s   best of {options.repeats} {best:6.2f} s")
        started = time.perf_counter()
        refused = client.get("/api/leaderboard", params={"style_control": "true"})
        print(f"style_control=true over every battle: {refused.status_code} in {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    os.environ.setdefault("ARENA_LOG_LEVEL", "WARNING")
    main()
