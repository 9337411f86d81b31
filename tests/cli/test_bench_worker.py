"""`arena bench worker` as an operator runs it: real worker processes on a shared database, the
Ollama double as their engine. Two workers share one run on PostgreSQL with nothing done twice;
a worker killed with -9 mid-item leaves it to be taken over once its lease runs out; a stopped
worker hands its items back at once; SQLite refuses a second worker. With Redis a worker draws on
its run owner's generation budget, the one the web processes count."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from arena.evaluation.bench import control
from arena.evaluation.bench.control import get_progress, queue_run
from arena.evaluation.bench.plan import create_run
from arena.evaluation.bench.prompt_sets import parse_prompt_set
from arena.evaluation.bench.spec import BenchSpec, JudgeSpec, parse_model_spec
from arena.storage.auth_models import User
from arena.storage.bench_models import BenchItem, BenchJudgment, BenchRun
from arena.storage.db import Database
from arena.storage.redis_namespace import redis_namespace
from arena.storage.shared_state import connect
from arena.web.auth.budget_redis import RedisBudget
from tests.support.cluster import Cluster, cluster_env, evaluator_tokens
from tests.support.db_fixtures import DATABASE_PARAMS, make_database
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory, DoubleFactory
from tests.support.redis_server import RedisServer

LLAMA, QWEN = "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"
TIE = '{"explanation": "Equally good.", "verdict": "tie"}'  # every reply reads as a verdict, too
QUESTIONS = [f"Question number {n}?" for n in range(1, 7)]
pytestmark = pytest.mark.timeout(180)


@pytest.fixture(params=DATABASE_PARAMS)
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The database the workers share, migrated; on PostgreSQL a schema of this test's own."""
    with make_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Database]:
    with make_database("postgresql", tmp_path) as database:
        yield database


def queued_run(
    database: Database,
    *,
    questions: list[str] = QUESTIONS,
    judge: bool = False,
    models: tuple[str, ...] = (LLAMA, QWEN),
    owner_id: int | None = None,
) -> str:
    """A run of the questions × two Ollama models, in the workers' queue (as a server in workers mode leaves it)."""
    few = {"num_predict": "8"}
    spec = BenchSpec(
        instances=[parse_model_spec(model, defaults=few) for model in models],
        judge=JudgeSpec(instance=parse_model_spec(LLAMA, defaults={"num_predict": "64"})) if judge else None,
        seed=5,
    )
    prompt_set = parse_prompt_set("\n".join(questions).encode(), filename="questions.txt")
    run_id = create_run(database=database, spec=spec, prompt_set=prompt_set, owner_id=owner_id)
    queue_run(database=database, run_id=run_id)
    return run_id


@contextmanager
def bench_worker(
    data_dir: Path,
    database: Database | None,
    double: OllamaDouble,
    *,
    lease: float = 30,
    concurrency: int = 1,
    env: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """`arena bench worker` in a child process on `database` (None: the data directory's SQLite
    file, as a server there uses it); killed at the end if still running."""
    url = {} if database is None else {"DATABASE_URL": database.url.render_as_string(hide_password=False)}
    env = {
        **os.environ,
        "ARENA_DATA_DIR": str(data_dir),
        **url,
        "OLLAMA_HOST": double.url,
        "ARENA_EMBEDDED": "0",
        "COLUMNS": "200",
        **(env or {}),
    }
    command = [sys.executable, "-m", "arena", "bench", "worker", "--lease", str(lease), "--poll", "0.1"]
    process = subprocess.Popen(
        [*command, "--concurrency", str(concurrency)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def rows(database: Database, work: type[BenchItem] | type[BenchJudgment]) -> list:
    with database.session() as session:
        return list(session.scalars(select(work).order_by(work.id)))


def run_row(database: Database, run_id: str) -> BenchRun:
    with database.session() as session:
        run = session.get(BenchRun, run_id)
        assert run is not None
        return run


def wait_until(condition: Callable[[], object], *, timeout: float = 90, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> str:
    """SIGTERM, as systemd stops a service; returns what the worker printed."""
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    return output.decode()


def test_two_workers_on_postgresql_share_a_run_and_nothing_is_done_twice(
    tmp_path: Path, postgres: Database, double: OllamaDouble
) -> None:
    double.reply = (TIE,)
    double.token_delay = 0.02
    double.first_token_delay = 0.15  # about 0.2 s an answer: both workers get a share
    run_id = queued_run(postgres, judge=True)
    data_dir = tmp_path / "data"

    with (
        bench_worker(data_dir, postgres, double, concurrency=2) as first,
        bench_worker(data_dir, postgres, double, concurrency=2) as second,
    ):
        wait_until(lambda: run_row(postgres, run_id).status == "done", what="the run to finish")
        outputs = [stop(first), stop(second)]

    assert [first.returncode, second.returncode] == [0, 0], outputs
    items, judgments = rows(postgres, BenchItem), rows(postgres, BenchJudgment)
    assert len(items) == 12 and len(judgments) == 6
    assert {(item.status, item.attempts) for item in items} == {("done", 1)}, "every item once, none redone"
    assert {(j.status, j.attempts, j.outcome) for j in judgments} == {("done", 1, "tie")}
    # The engine agrees: one request per item, two per judged pair (both orders), nothing more.
    assert len(double.bodies("/api/chat")) == len(items) + 2 * len(judgments)
    workers = Counter(item.worker for item in items)
    assert len(workers) == 2, f"both workers took items: {workers}"
    assert {item.host for item in items} == {socket.gethostname()}
    assert {item.engine for item in items} == {f"ollama:{double.url}"}
    run = run_row(postgres, run_id)
    assert run.queued_at is None and run.finished_at is not None
    assert {entry["worker"] for entry in run.environment} == set(workers)  # each worker said where it ran


def test_an_item_of_a_worker_killed_mid_item_is_taken_over_after_its_lease(
    tmp_path: Path, shared: Database, double: OllamaDouble
) -> None:
    double.token_delay = 0.1  # about 0.8 s an answer: the kill lands mid-item
    run_id = queued_run(shared, questions=QUESTIONS[:3])
    data_dir = tmp_path / "data"
    lease = 3.0

    with bench_worker(data_dir, shared, double, lease=lease) as doomed:
        wait_until(lambda: any(i.status == "running" for i in rows(shared, BenchItem)), what="an item in flight")
        doomed.send_signal(signal.SIGKILL)
        assert doomed.wait(timeout=30) == -signal.SIGKILL
    [orphan] = [item for item in rows(shared, BenchItem) if item.status == "running"]
    assert orphan.attempts == 1 and orphan.lease_until is not None

    with bench_worker(data_dir, shared, double, lease=lease) as heir:
        wait_until(lambda: run_row(shared, run_id).status == "done", what="the run to finish")
        stop(heir)

    items = {item.id: item for item in rows(shared, BenchItem)}
    assert {item.status for item in items.values()} == {"done"} and len(items) == 6
    taken_over = items[orphan.id]
    assert taken_over.attempts == 2 and taken_over.worker != orphan.worker
    assert taken_over.started_at >= orphan.lease_until, "nobody took the item while its lease held"
    assert taken_over.answers and taken_over.tokens_per_sec
    assert all(item.attempts == 1 for item in items.values() if item.id != orphan.id)


def test_a_stopped_worker_hands_its_items_back_and_sqlite_refuses_a_second_worker(
    tmp_path: Path, double: OllamaDouble
) -> None:
    double.first_token_delay = 60  # the first answer is still loading when the stop comes
    data_dir = tmp_path / "data"
    with make_database("sqlite", tmp_path) as database:
        # First in the queue, a model this worker's engines lack: it leaves it to a worker that has it.
        elsewhere = queued_run(database, questions=QUESTIONS[:1], models=("ollama:only-on-the-gpu-box:70b",))
        run_id = queued_run(database, questions=QUESTIONS[:2])
        with bench_worker(data_dir, database, double) as first:
            wait_until(lambda: any(i.status == "running" for i in rows(database, BenchItem)), what="an item in flight")
            with bench_worker(data_dir, database, double) as second:
                output, _ = second.communicate(timeout=60)
            assert second.returncode == 1
            assert "already serves this SQLite database" in output.decode()
            [in_flight] = [item.id for item in rows(database, BenchItem) if item.status == "running"]
            stopped_output = stop(first)

        assert first.returncode == 0, stopped_output
        items = {item.id: item for item in rows(database, BenchItem)}
        assert "running" not in {item.status for item in items.values()}
        handed_back = items[in_flight]
        assert (handed_back.status, handed_back.worker, handed_back.lease_until) == ("pending", None, None)
        progress = get_progress(database=database, run_id=run_id)
        assert progress.status in ("queued", "running") and progress.queued
        untouched = [(i.status, i.attempts) for i in rows(database, BenchItem) if i.run_id == elsewhere]
        assert untouched == [("pending", 0)] and get_progress(database=database, run_id=elsewhere).status == "queued"


def test_a_server_in_workers_mode_only_queues_and_a_worker_runs_the_run(
    double: OllamaDouble, arena_factory: ArenaFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(control, "WAITING_AFTER_S", 0.5)  # the server runs in this process
    arena = arena_factory(bench_runner="workers", ollama_hosts=[double.url], embedded_enabled=False)
    spec = {"instances": [{"model": LLAMA, "num_predict": 8}, {"model": QWEN, "num_predict": 8}], "seed": 3}
    upload = {"prompts": ("set.txt", "\n".join(QUESTIONS[:2]).encode(), "text/plain")}
    with arena.client() as client:
        started = client.post("/api/bench/runs", files=upload, data={"config": json.dumps(spec)})
        assert started.status_code == 201, started.text
        run = started.json()
        assert (run["status"], run["queued"], run["running_here"]) == ("queued", True, False)

        time.sleep(1.5)  # time enough for a server that runs it to have begun
        progress = client.get(f"/api/bench/runs/{run['id']}").json()
        assert progress["status"] == "queued" and progress["items"] == {"pending": 4}
        assert progress["waiting_for_worker"], "the page says nobody serves the queue"
        assert double.bodies("/api/chat") == [], "the web process generated nothing"

        # Cancelled and resumed while it waits: back in the queue, still nothing run here.
        assert client.post(f"/api/bench/runs/{run['id']}/cancel").json()["status"] == "cancelled"
        resumed = client.post(f"/api/bench/runs/{run['id']}/resume")
        assert resumed.status_code == 200 and resumed.json()["status"] == "queued"

        with bench_worker(arena.settings.data_dir, None, double) as worker:
            wait_until(lambda: client.get(f"/api/bench/runs/{run['id']}").json()["status"] == "done", what="the worker")
            stop(worker)
        done = client.get(f"/api/bench/runs/{run['id']}").json()
        assert done["items"] == {"done": 4} and not done["waiting_for_worker"] and not done["queued"]
        report = client.get(f"/api/bench/runs/{run['id']}/report").json()
        markdown = client.get(f"/api/bench/runs/{run['id']}/report", params={"format": "md"}).text

    assert len(double.bodies("/api/chat")) == 4
    assert {(i["host"], i["engine"]) for i in report["items"]} == {(socket.gethostname(), f"ollama:{double.url}")}
    assert {p["host"] for p in report["performance"]} == {socket.gethostname()}
    assert f"- Host: {socket.gethostname()}" in markdown


def budget_usage(redis_url: str, key: str, *, database_url: str) -> tuple[int, int]:
    """(units `key` holds, units held in all) in the shared budget, as the web processes count them
    (under the deployment's namespace: the database both the web process and the worker use)."""
    prefix = f"{redis_namespace(database_url)}:budget:"

    async def look() -> tuple[int, int]:
        client = connect(redis_url)
        try:
            return await RedisBudget(client, prefix=prefix, per_user=1, total=1, queue_timeout_s=1).usage(key)
        finally:
            await client.aclose()

    return asyncio.run(look())


def comparison(count: int) -> dict[str, object]:
    """`count` instances of one model, told apart by temperature."""
    return {"message": "hi", "model_instances": [{"model": LLAMA, "temperature": 0.1 * (n + 1)} for n in range(count)]}


@pytest.mark.postgres
def test_a_worker_on_redis_holds_its_owners_units_and_the_servers_total_counts_them(
    tmp_path: Path, postgres: Database, redis_url: str, double_factory: DoubleFactory
) -> None:
    busy_gpu, web_engine = double_factory(), double_factory()  # the worker's engine, the web process's
    busy_gpu.first_token_delay = 60  # the worker's four items hold their units while the test looks
    web_engine.reply = ["Hi", " there"]
    limits = {"ARENA_MAX_STREAMS_PER_USER": "6", "ARENA_MAX_GENERATIONS": "6", "ARENA_QUEUE_TIMEOUT_S": "1"}
    database_url = postgres.url.render_as_string(hide_password=False)
    data_dir = tmp_path / "data"
    env = cluster_env(data_dir, ollama_url=web_engine.url, database_url=database_url, redis_url=redis_url, **limits)
    data_dir.mkdir()
    bob_token, ann_token = evaluator_tokens(env, 2)
    with postgres.session() as session:
        bob = session.scalars(select(User.id).where(User.username == "evaluator0")).one()
    run_id = queued_run(postgres, questions=QUESTIONS[:2], owner_id=bob)  # 2 questions × 2 models: 4 items
    bob_key = f"user:{bob}"

    def chat(token: str, url: str, count: int) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.post(f"{url}/api/chat", json=comparison(count), headers=headers, timeout=30)

    worker_env = {"ARENA_REDIS_URL": redis_url, **limits}
    with (
        Cluster(size=1, directory=tmp_path / "cluster", env=env) as cluster,
        bench_worker(data_dir, postgres, busy_gpu, concurrency=4, env=worker_env) as worker,
    ):
        url = cluster.urls[0]
        wait_until(
            lambda: budget_usage(redis_url, bob_key, database_url=database_url) == (4, 4),
            timeout=30,
            what="the worker to hold bob's 4 units",
        )
        over = chat(bob_token, url, 3)  # 4 + 3 > 6: past bob's cap, whoever runs the 4
        assert over.status_code == 429, over.text
        assert "ARENA_MAX_STREAMS_PER_USER" in over.json()["error"] and "4 of yours" in over.json()["error"]
        assert chat(bob_token, url, 2).status_code == 200  # 4 + 2 fit: a cap, not a block
        busy = chat(ann_token, url, 3)  # ann runs nothing, but the server's 6 hold the worker's 4
        assert busy.status_code == 503, busy.text
        assert "ARENA_MAX_GENERATIONS" in busy.json()["error"]
        assert chat(ann_token, url, 2).status_code == 200
        output = stop(worker)
        assert worker.returncode == 0, output
        assert budget_usage(redis_url, bob_key, database_url=database_url) == (0, 0), (
            "a stopped worker gives its units back at once"
        )
        assert [chat(token, url, 3).status_code for token in (bob_token, ann_token)] == [200, 200]

    assert {(item.status, item.worker) for item in rows(postgres, BenchItem)} == {("pending", None)}
    assert run_row(postgres, run_id).queued_at is not None


def test_while_redis_is_away_a_workers_items_wait_uncounted_never_and_burn_no_attempts(
    tmp_path: Path, double: OllamaDouble
) -> None:
    redis = RedisServer(tmp_path / "redis")  # its own: stopping it leaves other tests' server alone
    data_dir = tmp_path / "data"
    with make_database("sqlite", tmp_path) as database:
        run_id = queued_run(database, questions=QUESTIONS[:1])
        with bench_worker(data_dir, database, double, concurrency=2, env={"ARENA_REDIS_URL": redis.url}) as worker:
            wait_until(lambda: "pending" not in {i.status for i in rows(database, BenchItem)}, what="both claimed")
            time.sleep(3)  # past a retry of the budget (every 2 s)
            assert double.bodies("/api/chat") == [], "nothing generated without its unit"
            assert {(i.status, i.attempts) for i in rows(database, BenchItem)} == {("running", 1)}
            redis.start()
            try:
                wait_until(lambda: run_row(database, run_id).status == "done", what="the run once Redis is back")
                output = stop(worker)
            finally:
                redis.stop()
        assert worker.returncode == 0, output
        assert {(i.status, i.attempts) for i in rows(database, BenchItem)} == {("done", 1)}
    assert len(double.bodies("/api/chat")) == 2
