"""Stored speeds as the Pareto charts read them: grouped by instance, host and engine; interactive
answers that ran beside other generations, or did not finish, left out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from arena.evaluation.bench.plan import instance_record
from arena.evaluation.conversation.instances import ModelInstance
from arena.storage.bench_models import BenchItem, BenchRun
from arena.storage.db import Database
from arena.storage.models import Response, Vote
from arena.storage.process_models import ServerProcess
from arena.storage.speed_figures import speed_figures
from tests.evaluation.test_bench_compare import Q4
from tests.support.builders import pairwise_vote, seed_turn, thumb
from tests.support.models import SMOL

pytestmark = pytest.mark.timeout(60)
LLAMA = "ollama:llama3.2:1b"
SMOL_INSTANCE = ModelInstance(model=SMOL, temperature=0.7)


def bench_item(
    number: int, *, host: str, rate: float, status: str = "done", model: ModelInstance = Q4, category: str | None = None
) -> BenchItem:
    engine = "local:in-process" if model.model.startswith("local:") else f"ollama:http://{host}:11434"
    return BenchItem(
        category=category,
        finished_at=datetime(2026, 12, 1, tzinfo=UTC),
        run_id="r" * 32,
        position=number,
        prompt_id=f"q{number}",
        turns=["?"],
        instance_id=model.instance_id,
        model=model.model,
        repeat=0,
        seed=1,
        status=status,
        tokens_per_sec=rate,
        host=host,
        engine=engine,
    )


def add_bench_run(session: Session, instances: list[ModelInstance]) -> None:
    session.add(
        BenchRun(
            id="r" * 32,
            name="r",
            status="done",
            prompt_set_name="set",
            prompt_set_sha256="ab" * 32,
            prompt_count=3,
            instances=[instance_record(i) for i in instances],
            repeats=1,
            concurrency=1,
            seed=1,
        )
    )
    session.flush()


def test_an_answer_keeps_its_host_after_a_restart_and_shares_the_benchmarks_engine_label(database: Database) -> None:
    # Outside pass 15: "vm · local" (answers) and "vm · local:in-process" (bench items) were two
    # charts, and after a restart the answers moved to "unknown host".
    database.process_id, database.process_host = "p2", "vm"
    with database.session() as session:
        session.add(ServerProcess(id="p2", host="vm", pid=3))
        add_bench_run(session, [SMOL_INSTANCE])
        session.add_all(
            [
                bench_item(0, host="vm", rate=20.0, model=SMOL_INSTANCE, category="code"),
                bench_item(1, host="vm", rate=40.0, model=SMOL_INSTANCE, category="writing"),
            ]
        )
    voted, unvoted = seed_turn(database, models=[SMOL]), seed_turn(database, models=[SMOL])
    # Two answers of one round ran together (one batch in the embedded engine): not solo speeds,
    # although no other round overlapped them (``contended`` False: the crown compares them).
    together = seed_turn(database, models=[SMOL, LLAMA])
    database.process_id = database.process_host = None
    thumb(database, voted, 0, "up")
    pairwise_vote(database, together, "A")
    with database.session() as session:
        session.execute(update(Vote).values(category="code"))
        ids = [*voted.response_ids, *unvoted.response_ids]
        session.execute(update(Response).where(Response.id.in_(ids)).values(tokens_per_sec=12.0, contended=False))
        session.execute(
            update(Response).where(Response.id.in_(together.response_ids)).values(tokens_per_sec=6.0, contended=False)
        )
        session.execute(delete(ServerProcess))  # the process stopped: its lease row is gone

    def figures(**filters: Any) -> dict[tuple[str, str | None, str | None], tuple[float, int]]:
        with database.session() as session:
            found = speed_figures(session, **filters)
        return {(f.model, f.host, f.engine): (f.tokens_per_sec, f.answers) for f in found if f.model == SMOL}

    assert figures() == {(SMOL, "vm", "local"): (pytest.approx((20 + 40 + 12 + 12) / 4), 4)}
    # A category keeps the bench items and the voted answers of that category only.
    assert figures(category="code") == {(SMOL, "vm", "local"): (pytest.approx((20 + 12) / 2), 2)}
    assert figures(category="writing") == {(SMOL, "vm", "local"): (pytest.approx(40.0), 1)}
    # A date range keeps what finished inside it: the bench items of 1 December, not today's answers.
    with database.session() as session:  # several items at once: none of them measured alone
        session.execute(update(BenchRun).values(concurrency=2))
    assert figures() == {(SMOL, "vm", "local"): (pytest.approx(12.0), 2)}
    with database.session() as session:
        session.execute(update(BenchRun).values(concurrency=1))
    december = {"since": datetime(2026, 11, 30, tzinfo=UTC), "until": datetime(2026, 12, 2, tzinfo=UTC)}
    assert figures(**december) == {(SMOL, "vm", "local"): (pytest.approx(30.0), 2)}


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
        (Q4.model, "gpu", "ollama"): (pytest.approx(60.0), 2),
        (Q4.model, "laptop", "ollama"): (pytest.approx(8.0), 1),
        (LLAMA, "web-1", "ollama"): (pytest.approx(20.0), 2),
    }
