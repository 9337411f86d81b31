"""The bench runner against the Ollama protocol double: every item once, resumable, cancellable;
SQLite and PostgreSQL (the shared `database` fixture)."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from arena.engines.factory import build_router
from arena.engines.router import Router
from arena.errors import Conflict
from arena.evaluation.bench.claim import new_worker
from arena.evaluation.bench.control import cancel_run, get_progress
from arena.evaluation.bench.plan import create_run
from arena.evaluation.bench.prompt_sets import parse_prompt_set
from arena.evaluation.bench.runner import BenchRunner, WorkEvent
from arena.evaluation.bench.spec import BenchSpec, JudgeSpec, judge_instance
from arena.evaluation.conversation.instances import ModelInstance
from arena.storage import battle_signals as signal_store
from arena.storage import bench as store
from arena.storage import judgments as judgment_store
from arena.storage.bench_models import BenchItem
from arena.storage.db import Database
from tests.support.doubles.ollama import OllamaDouble
from tests.support.doubles.scripted_engine import CountingEngine
from tests.support.server import make_settings

pytestmark = pytest.mark.anyio

LLAMA = ModelInstance(model="ollama:llama3.2:1b", num_predict=8)
QWEN = ModelInstance(model="ollama:qwen2.5:0.5b", num_predict=8)
PROMPTS = parse_prompt_set(
    b'{"id": "story", "prompt": "Tell a story.", "category": "writing"}\n'
    b'{"id": "chat", "turns": ["Hello!", "And again?"], "category": "chat"}\n',
    filename="mini.jsonl",
)
TIE = '{"explanation": "Both answers are the same.", "verdict": "tie"}'
MT_BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mt_bench_questions.jsonl"


@pytest.fixture
async def router(tmp_path: Path, double: OllamaDouble) -> AsyncIterator[Router]:
    built = build_router(make_settings(tmp_path / "data", ollama_hosts=[double.url], embedded_enabled=False))
    try:
        yield built
    finally:
        await built.aclose()


def items_of(database: Database, run_id: str) -> list[BenchItem]:
    with database.session() as session:
        return store.list_items(session, run_id=run_id)


def chats(double: OllamaDouble) -> list[dict]:
    return double.bodies("/api/chat")


async def test_a_run_answers_every_item_once_each_turn_seeing_its_own_answers(
    database: Database, router: Router, double: OllamaDouble
) -> None:
    run_id = create_run(
        database=database, spec=BenchSpec(instances=[LLAMA, QWEN], repeats=2, seed=5), prompt_set=PROMPTS
    )

    result = await BenchRunner(database=database, router=router, run_id=run_id).run()

    assert result.status == "done" and result.items == {"done": 8} and result.failed == 0
    items = items_of(database, run_id)
    assert all(item.attempts == 1 for item in items)
    answer = "".join(double.reply)
    assert all(item.answers == [answer] * len(item.turns) for item in items)
    assert all(item.tokens and item.ttft_s is not None and item.tokens_per_sec for item in items)
    # One request per turn: 2 instances × 2 repeats × (1 + 2 turns).
    assert len(chats(double)) == 12
    second_turns = [body for body in chats(double) if len(body["messages"]) == 3]
    assert len(second_turns) == 4
    assert all(body["messages"][1] == {"role": "assistant", "content": answer} for body in second_turns)
    sent_seeds = sorted(body["options"]["seed"] for body in chats(double))
    assert sent_seeds == sorted(item.seed for item in items for _ in item.turns)
    with database.session() as session:
        [session_info] = store.get_run(session, run_id=run_id).environment
    assert {"engine": "ollama", "endpoint": double.url, "reachable": True, "version": "0.6.5"} in session_info[
        "engines"
    ]


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_no_endpoint_gets_more_generations_at_once_than_the_concurrency(
    database: Database, concurrency: int
) -> None:
    engine = CountingEngine()
    prompts = parse_prompt_set(b"one\ntwo\nthree\nfour\n", filename="four.txt")
    spec = BenchSpec(instances=[ModelInstance(model=f"ollama:{n}") for n in "abc"], concurrency=concurrency)
    run_id = create_run(database=database, spec=spec, prompt_set=prompts)

    result = await BenchRunner(database=database, router=Router(engines=[engine]), run_id=run_id).run()

    assert result.items == {"done": 12}
    assert engine.peak == concurrency


async def test_a_stopped_run_resumes_without_losing_or_repeating_an_item(
    database: Database, router: Router, double: OllamaDouble
) -> None:
    double.token_delay = 0.02
    run_id = create_run(
        database=database, spec=BenchSpec(instances=[LLAMA, QWEN], repeats=2, concurrency=1), prompt_set=PROMPTS
    )
    heard: list[WorkEvent] = []
    runner = BenchRunner(database=database, router=router, run_id=run_id, listener=heard.append)
    task = asyncio.create_task(runner.run())
    while len(heard) < 3:
        await asyncio.sleep(0.01)
    runner.stop()
    first = await task

    assert first.status == "interrupted"
    done_first = {item.id for item in items_of(database, run_id) if item.status == "done"}
    assert 3 <= len(done_first) < 8
    assert "running" not in {item.status for item in items_of(database, run_id)}
    assert get_progress(database=database, run_id=run_id).status == "interrupted"

    second = await BenchRunner(database=database, router=router, run_id=run_id).run()

    assert second.status == "done" and second.items == {"done": 8}
    items = items_of(database, run_id)
    assert all(item.attempts == 1 for item in items if item.id in done_first), "nothing done was redone"
    with database.session() as session:
        assert len(store.get_run(session, run_id=run_id).environment) == 2, "both sessions recorded"


async def test_a_run_left_by_a_killed_process_is_taken_over_at_once(database: Database, router: Router) -> None:
    run_id = create_run(database=database, spec=BenchSpec(instances=[LLAMA, QWEN]), prompt_set=PROMPTS)
    dead_pid = max(int(p) for p in os.listdir("/proc") if p.isdigit()) + 100_000  # no such process
    dead = f"{socket.gethostname()}:{dead_pid}:feedbeef"
    with database.session() as session:
        store.claim_run(session, run_id=run_id, worker=dead, expected_worker=None)  # heartbeat: now
        stranded = store.list_items(session, run_id=run_id)[0]
        store.start_work(session, work=BenchItem, work_id=stranded.id)

    result = await BenchRunner(database=database, router=router, run_id=run_id).run()

    assert result.items == {"done": 4}
    redone = next(item for item in items_of(database, run_id) if item.id == stranded.id)
    assert redone.attempts == 2 and redone.status == "done"


async def test_a_run_with_a_live_worker_is_not_taken_over(database: Database, router: Router) -> None:
    run_id = create_run(database=database, spec=BenchSpec(instances=[LLAMA]), prompt_set=PROMPTS)
    with database.session() as session:
        store.claim_run(session, run_id=run_id, worker=new_worker(), expected_worker=None)

    with pytest.raises(Conflict, match="right now"):
        await BenchRunner(database=database, router=router, run_id=run_id).run()
    assert items_of(database, run_id)[0].status == "pending"


async def test_a_cancel_from_another_process_stops_the_run_within_a_heartbeat(
    database: Database, router: Router, double: OllamaDouble
) -> None:
    double.token_delay = 0.1
    run_id = create_run(database=database, spec=BenchSpec(instances=[LLAMA, QWEN], repeats=3), prompt_set=PROMPTS)
    heard: list[WorkEvent] = []
    task = asyncio.create_task(
        BenchRunner(database=database, router=router, run_id=run_id, listener=heard.append).run()
    )
    while not heard:
        await asyncio.sleep(0.01)

    assert (await asyncio.to_thread(cancel_run, database=database, run_id=run_id)).status == "cancelling"
    result = await asyncio.wait_for(task, timeout=5)

    assert result.status == "cancelled"
    progress = get_progress(database=database, run_id=run_id)
    assert progress.status == "cancelled" and "running" not in progress.items and progress.items.get("pending")


async def test_judged_pairs_are_stored_with_the_run_and_an_unreadable_verdict_fails_only_its_pair(
    database: Database, router: Router, double: OllamaDouble
) -> None:
    double.reply = [TIE]
    judge = JudgeSpec(instance=judge_instance("ollama:llama3.2:1b"))
    run_id = create_run(database=database, spec=BenchSpec(instances=[LLAMA, QWEN], judge=judge), prompt_set=PROMPTS)

    result = await BenchRunner(database=database, router=router, run_id=run_id).run()

    assert result.items == {"done": 4} and result.judgments == {"done": 2}
    with database.session() as session:
        pairs = store.list_judgments(session, run_id=run_id)
        recorded = judgment_store.list_judgments(session, run_id=run_id)
    assert {pair.outcome for pair in pairs} == {"tie"}
    assert all(pair.detail and pair.detail["consistent"] for pair in pairs)
    assert len(recorded) == 2 and {r.key_a for r in recorded} == {LLAMA.instance_id}
    with database.session() as session:
        signals = [j for j in signal_store.battle_signals(session).judgments if j.run_id == run_id]
    assert {(j.model_a, j.model_b) for j in signals} == {(LLAMA.model, QWEN.model)}, "verdicts reach the leaderboard"
    judge_requests = [body for body in chats(double) if body.get("format")]
    assert len(judge_requests) == 4, "each pair judged in both orders"
    assert {body["options"]["seed"] for body in judge_requests} == {42}

    double.reply = ["I cannot decide."]
    run_id = create_run(database=database, spec=BenchSpec(instances=[LLAMA, QWEN], judge=judge), prompt_set=PROMPTS)
    result = await BenchRunner(database=database, router=router, run_id=run_id).run()
    assert result.items == {"done": 4} and result.judgments == {"error": 2} and result.failed == 2
    with database.session() as session:
        assert all("no usable verdict" in (p.error or "") for p in store.list_judgments(session, run_id=run_id))


async def test_a_model_that_fails_fails_its_items_and_skips_its_pairs(
    tmp_path: Path, database: Database, double: OllamaDouble
) -> None:
    settings = make_settings(
        tmp_path / "data",
        ollama_hosts=[double.url],
        embedded_enabled=False,
        openai_endpoints="down=http://127.0.0.1:9/v1",
    )
    router = build_router(settings)
    double.reply = [TIE]
    down = ModelInstance(model="openai:down/model")
    judge = JudgeSpec(instance=judge_instance("ollama:llama3.2:1b"))
    run_id = create_run(
        database=database, spec=BenchSpec(instances=[LLAMA, QWEN, down], judge=judge), prompt_set=PROMPTS
    )
    try:
        result = await BenchRunner(database=database, router=router, run_id=run_id).run()
    finally:
        await router.aclose()

    assert result.status == "done"
    assert result.items == {"done": 4, "error": 2} and result.judgments == {"done": 2, "skipped": 4}
    with database.session() as session:
        failed = [item for item in store.list_items(session, run_id=run_id) if item.status == "error"]
        skipped = store.list_judgments(session, run_id=run_id, statuses=["skipped"])
    assert {item.instance_id for item in failed} == {down.instance_id}
    assert all(item.error for item in failed)
    assert all(down.instance_id in (j.error or "") for j in skipped)
    assert result.failed == 2
    assert get_progress(database=database, run_id=run_id).finished_at is not None


async def test_retrying_errors_redoes_only_what_failed(
    database: Database, router: Router, double: OllamaDouble
) -> None:
    run_id = create_run(database=database, spec=BenchSpec(instances=[LLAMA, QWEN]), prompt_set=PROMPTS)
    double.busy = True
    first = await BenchRunner(database=database, router=router, run_id=run_id).run()
    assert first.items == {"error": 4}
    with pytest.raises(Conflict, match="already finished"):
        await BenchRunner(database=database, router=router, run_id=run_id).run()

    double.busy = False
    second = await BenchRunner(database=database, router=router, run_id=run_id).run(retry_errors=True)

    assert second.items == {"done": 4}
    assert {item.attempts for item in items_of(database, run_id)} == {2}


async def test_mt_bench_questions_are_answered_turn_by_turn_and_judged_against_their_reference(
    database: Database, router: Router, double: OllamaDouble
) -> None:
    lines = MT_BENCH.read_bytes().splitlines(keepends=True)
    questions = parse_prompt_set(b"".join(lines[20:22]), filename="mt_bench_questions.jsonl")  # 101 and 102
    assert [q.id for q in questions.items] == ["101", "102"] and all(q.reference for q in questions.items)
    double.reply = [TIE]
    judge = JudgeSpec(instance=judge_instance("ollama:llama3.2:1b"))
    run_id = create_run(database=database, spec=BenchSpec(instances=[LLAMA, QWEN], judge=judge), prompt_set=questions)

    result = await BenchRunner(database=database, router=router, run_id=run_id).run()

    assert result.items == {"done": 4} and result.judgments == {"done": 2}
    assert all(len(item.answers or []) == 2 for item in items_of(database, run_id))
    judge_prompts = [body["messages"][-1]["content"] for body in chats(double) if body.get("format")]
    for question in questions.items:
        asked = [text for text in judge_prompts if question.turns[1] in text]
        assert len(asked) == 2, "both orders, the whole conversation"
        assert all(question.reference[0] in text for text in asked), "reference-guided"  # type: ignore[index]
