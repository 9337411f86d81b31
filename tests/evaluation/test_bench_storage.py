"""The bench tables on SQLite and PostgreSQL: migration, all-or-nothing runs, guarded state changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import inspect

from arena.errors import Conflict, InvalidInput
from arena.evaluation.bench.claim import new_worker, retire_worker, worker_alive
from arena.evaluation.bench.control import cancel_run, get_progress
from arena.evaluation.bench.plan import create_run
from arena.evaluation.bench.prompt_sets import parse_prompt_set
from arena.evaluation.bench.spec import BenchSpec
from arena.evaluation.conversation.instances import ModelInstance
from arena.storage import bench as store
from arena.storage.bench_models import BenchItem, BenchRun
from arena.storage.db import Database
from arena.storage.models import utcnow

BENCH_TABLES = {"bench_runs", "bench_items", "bench_judgments"}
PROMPTS = parse_prompt_set(b"first\nsecond\n", filename="two.txt")
SPEC = BenchSpec(instances=[ModelInstance(model="ollama:a"), ModelInstance(model="ollama:b")], repeats=2, seed=11)


def test_migration_creates_the_bench_tables_and_takes_them_away_again(blank_database: Database) -> None:
    blank_database.migrate()
    assert set(inspect(blank_database.engine).get_table_names()) >= BENCH_TABLES

    config = blank_database.alembic_config()
    with blank_database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    tables = set(inspect(blank_database.engine).get_table_names())
    assert not BENCH_TABLES & tables and "judgments" in tables


def test_a_run_is_written_whole_with_every_item_pending(database: Database) -> None:
    run_id = create_run(database=database, spec=SPEC, prompt_set=PROMPTS, prompt_file="two.txt")

    progress = get_progress(database=database, run_id=run_id[:6])
    assert progress.id == run_id and progress.status == "pending"
    assert progress.items == {"pending": 8} and progress.total == 8 and progress.finished == 0
    with database.session() as session:
        run = store.get_run(session, run_id=run_id)
        assert (run.prompt_file, run.prompt_set_sha256, run.seed) == ("two.txt", PROMPTS.sha256, 11)


def test_a_run_that_cannot_be_written_leaves_nothing_behind(database: Database) -> None:
    long_ids = parse_prompt_set(('{"id": "%s", "prompt": "x"}\n' % ("q" * 300)).encode(), filename="long.jsonl")
    with pytest.raises(InvalidInput, match="id is longer"):
        create_run(database=database, spec=SPEC, prompt_set=long_ids)
    with pytest.raises(InvalidInput, match="name must not be empty"):
        create_run(database=database, spec=SPEC.model_copy(update={"name": "  "}), prompt_set=PROMPTS)
    with database.session() as session:
        assert store.list_runs(session) == []
        assert session.query(BenchItem).count() == 0


def test_an_item_is_finished_only_by_the_attempt_that_started_it(database: Database) -> None:
    run_id = create_run(database=database, spec=SPEC, prompt_set=PROMPTS)
    with database.session() as session:
        item = store.list_items(session, run_id=run_id)[0]
        first = store.start_work(session, work=BenchItem, work_id=item.id)
    with database.session() as session, pytest.raises(Conflict):
        store.start_work(session, work=BenchItem, work_id=item.id)  # already running
    with database.session() as session:
        store.reset_unfinished(session, run_id=run_id)  # its worker died
        second = store.start_work(session, work=BenchItem, work_id=item.id)
    assert second == first + 1
    with database.session() as session, pytest.raises(Conflict):
        store.finish_work(session, work=BenchItem, work_id=item.id, attempt=first, status="done", answers=["late"])
    with database.session() as session:
        store.finish_work(session, work=BenchItem, work_id=item.id, attempt=second, status="done", answers=["ok"])
    with database.session() as session:
        store.reset_unfinished(session, run_id=run_id, retry_errors=True)  # done is never reset
        done = session.get(BenchItem, item.id)
        assert done is not None and (done.status, done.answers, done.attempts) == ("done", ["ok"], 2)


def test_a_worker_is_alive_until_its_process_is_gone_or_its_heartbeat_is_stale() -> None:
    now = utcnow()
    mine = new_worker()
    assert worker_alive(mine, heartbeat_at=now, now=now)
    assert not worker_alive(mine, heartbeat_at=now - timedelta(minutes=5), now=now)
    retire_worker(mine)
    assert not worker_alive(mine, heartbeat_at=now, now=now), "a retired runner of this process"
    host = mine.split(":")[0]
    assert not worker_alive(f"{host}:999999999:abc", heartbeat_at=now, now=now), "a pid that does not exist"
    assert worker_alive("some-other-host:12:abc", heartbeat_at=now, now=now), "another machine: trust the heartbeat"
    assert not worker_alive(None, heartbeat_at=now, now=now)


def test_cancelling_a_run_nobody_works_on_puts_its_stranded_items_back(database: Database) -> None:
    run_id = create_run(database=database, spec=SPEC, prompt_set=PROMPTS)
    dead = "some-other-host:12:abc"
    with database.session() as session:
        store.claim_run(session, run_id=run_id, worker=dead, expected_worker=None)
        item = store.list_items(session, run_id=run_id)[0]
        store.start_work(session, work=BenchItem, work_id=item.id)
        session.get(BenchRun, run_id).heartbeat_at = utcnow() - timedelta(minutes=10)  # type: ignore[union-attr]

    assert get_progress(database=database, run_id=run_id).status == "interrupted"
    progress = cancel_run(database=database, run_id=run_id)

    assert progress.status == "cancelled" and progress.items == {"pending": 8}
    with pytest.raises(Conflict, match="claimed by another process"), database.session() as session:
        store.claim_run(session, run_id=run_id, worker=new_worker(), expected_worker=dead)
