"""Stored speeds as the Pareto charts read them: grouped by instance, host and engine; interactive
answers that ran beside other generations, or did not finish, left out."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from arena.evaluation.bench.plan import instance_record
from arena.storage.bench_models import BenchItem, BenchRun
from arena.storage.db import Database
from arena.storage.models import Response
from arena.storage.process_models import ServerProcess
from arena.storage.speed_figures import speed_figures
from tests.evaluation.test_bench_compare import Q4
from tests.support.builders import seed_turn

pytestmark = pytest.mark.timeout(60)
LLAMA = "ollama:llama3.2:1b"


def bench_item(number: int, *, host: str, rate: float, status: str = "done") -> BenchItem:
    return BenchItem(
        run_id="r" * 32,
        position=number,
        prompt_id=f"q{number}",
        turns=["?"],
        instance_id=Q4.instance_id,
        model=Q4.model,
        repeat=0,
        seed=1,
        status=status,
        tokens_per_sec=rate,
        host=host,
        engine=f"ollama:http://{host}:11434",
    )


def test_speeds_are_grouped_per_host_and_engine_and_contended_answers_left_out(database: Database) -> None:
    with database.session() as session:
        session.add(
            BenchRun(
                id="r" * 32,
                name="r",
                status="done",
                prompt_set_name="set",
                prompt_set_sha256="ab" * 32,
                prompt_count=3,
                instances=[instance_record(Q4)],
                repeats=1,
                concurrency=1,
                seed=1,
            )
        )
        session.add(ServerProcess(id="p1", host="web-1", pid=12))
        session.flush()
        session.add_all(
            [
                bench_item(0, host="gpu", rate=50.0),
                bench_item(1, host="gpu", rate=70.0),
                bench_item(2, host="laptop", rate=8.0),
                bench_item(3, host="laptop", rate=999.0, status="error"),
            ]
        )
        session.commit()
    turns = [seed_turn(database, models=[LLAMA]) for _ in range(3)]
    with database.session() as session:
        for turn, rate, contended in zip(turns, (10.0, 30.0, 500.0), (False, None, True), strict=True):
            session.execute(
                update(Response)
                .where(Response.id == turn.response_ids[0])
                .values(tokens_per_sec=rate, contended=contended, owner_process="p1")
            )
        session.commit()

    with database.session() as session:
        figures = {(f.model, f.host, f.engine): (f.tokens_per_sec, f.answers) for f in speed_figures(session)}

    assert figures == {
        (Q4.model, "gpu", "ollama:http://gpu:11434"): (pytest.approx(60.0), 2),
        (Q4.model, "laptop", "ollama:http://laptop:11434"): (pytest.approx(8.0), 1),
        (LLAMA, "web-1", "ollama"): (pytest.approx(20.0), 2),
    }
