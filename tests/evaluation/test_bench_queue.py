"""The bench queue's rules, on SQLite and PostgreSQL: a row is leased to one worker, an expired
lease is taken over with the next attempt, and only the holder of the row can finish it."""

from __future__ import annotations

import pytest

from arena.errors import Conflict
from arena.evaluation.bench.control import cancel_run, ensure_resumable, get_progress, queue_run
from arena.evaluation.bench.plan import create_run
from arena.evaluation.bench.prompt_sets import parse_prompt_set
from arena.evaluation.bench.spec import BenchSpec, JudgeSpec, parse_model_spec
from arena.storage import bench_queue as queue
from arena.storage.bench_models import BenchItem, BenchJudgment
from arena.storage.db import Database

LLAMA, QWEN = "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"
ENGINE = "ollama:http://gpu-1:11434"
pytestmark = pytest.mark.timeout(60)


def engine_of(model: str) -> str:
    return ENGINE


def queued(database: Database, *, prompts: int = 1, judge: bool = False) -> str:
    spec = BenchSpec(
        instances=[parse_model_spec(LLAMA), parse_model_spec(QWEN)],
        judge=JudgeSpec(instance=parse_model_spec(LLAMA)) if judge else None,
        seed=1,
    )
    text = "\n".join(f"Question {n}?" for n in range(prompts)).encode()
    run_id = create_run(database=database, spec=spec, prompt_set=parse_prompt_set(text, filename="q.txt"))
    queue_run(database=database, run_id=run_id)
    return run_id


def claim(database: Database, worker: str, *, lease_s: float = 30.0) -> tuple[BenchItem, int] | None:
    with database.session() as session:
        return queue.claim_item(session, worker=worker, host=f"{worker}-host", lease_s=lease_s, engine_of=engine_of)


def finish(database: Database, item_id: int, attempt: int, worker: str, status: str = "done") -> None:
    with database.session() as session:
        queue.finish(session, work=BenchItem, work_id=item_id, attempt=attempt, worker=worker, status=status)


def test_each_row_goes_to_one_worker_and_only_its_holder_finishes_it(database: Database) -> None:
    run_id = queued(database)
    with pytest.raises(Conflict, match="queued for the bench workers"):
        ensure_resumable(database=database, run_id=run_id)  # `arena bench resume` leaves it to them
    first, second = claim(database, "a"), claim(database, "b")
    assert first and second and first[0].id != second[0].id
    assert claim(database, "c") is None, "both items are leased"
    assert (first[0].host, first[0].engine, first[0].worker) == ("a-host", ENGINE, "a")

    with pytest.raises(Conflict):
        finish(database, first[0].id, first[1], "b")  # not b's row
    finish(database, first[0].id, first[1], "a")
    with pytest.raises(Conflict):
        finish(database, first[0].id, first[1], "a")  # done once: a second finish is refused
    finish(database, second[0].id, second[1], "b")

    with database.session() as session:
        assert queue.complete_if_finished(session, run_id=run_id)
    progress = get_progress(database=database, run_id=run_id)
    assert (progress.status, progress.queued, progress.items) == ("done", False, {"done": 2})


def test_an_expired_lease_is_taken_over_and_the_first_attempt_can_no_longer_finish(database: Database) -> None:
    queued(database)
    stalled = claim(database, "a", lease_s=0.0)  # its lease ends as it begins: a worker killed at once
    assert stalled is not None
    taken = claim(database, "b")
    assert taken is not None and taken[0].id == stalled[0].id and (stalled[1], taken[1]) == (1, 2)

    with pytest.raises(Conflict):
        finish(database, stalled[0].id, stalled[1], "a")
    finish(database, taken[0].id, taken[1], "b")
    with database.session() as session:
        assert queue.renew(session, worker="a", lease_s=30) == set(), "a holds nothing any more"


def test_a_pair_waits_for_both_answers_and_is_skipped_when_one_failed(database: Database) -> None:
    run_id = queued(database, prompts=2, judge=True)

    def claim_pair() -> tuple[BenchJudgment, int] | None:
        with database.session() as session:
            return queue.claim_judgment(session, worker="a", host="h", lease_s=30, engine_of=engine_of)

    leased = [claim(database, "a") for _ in range(4)]
    assert all(leased) and claim_pair() is None, "no pair is ready before its answers"
    by_prompt = sorted(leased, key=lambda claimed: claimed[0].prompt_id)  # type: ignore[index]
    for index, (item, attempt) in enumerate(by_prompt):  # type: ignore[misc]
        finish(database, item.id, attempt, "a", status="error" if index == 3 else "done")
    pair = claim_pair()
    assert pair is not None and pair[0].prompt_id == by_prompt[0][0].prompt_id  # type: ignore[index]
    with database.session() as session:
        assert queue.skip_unanswerable(session) == 1  # the other prompt's pair: one answer failed
        queue.finish(session, work=BenchJudgment, work_id=pair[0].id, attempt=pair[1], worker="a", status="done")
    with database.session() as session:
        assert queue.complete_finished(session) == [run_id]


def test_a_cancelled_queued_run_is_let_go_and_a_stopped_worker_hands_back_at_once(database: Database) -> None:
    run_id = queued(database)
    held, other = claim(database, "a"), claim(database, "b")
    assert held and other
    with database.session() as session:
        assert queue.release(session, worker="b") == 1  # b stopped: its row is pending again
        assert queue.renew(session, worker="a", lease_s=30) == {("bench_items", held[0].id)}

    assert cancel_run(database=database, run_id=run_id).status == "cancelled"
    with database.session() as session:
        assert queue.renew(session, worker="a", lease_s=30) == set(), "a sees its run is gone"
    assert claim(database, "c") is None, "a cancelled run is out of the queue"
