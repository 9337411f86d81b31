"""Work through a benchmark run: generate every pending item, judge every ready pair.

One runner per run at a time: it claims the run (see ``bench.claim``), puts back what a dead
worker left ``running``, then starts one task per unit of work. A task waits for a slot of its
engine endpoint (``concurrency`` per endpoint) and for a unit of the owner's generation budget
(``evaluation.budget``: the server's per-user cap holds, whatever the concurrency), marks its row
running, generates, and writes the result in one commit. A pair is judged as soon as both its answers are done; if either
failed, the pair is skipped. A heartbeat task keeps the claim alive and watches for a cancel.

Stopping (cancel, Ctrl-C, server shutdown) puts the rows in flight back to ``pending``; a
kill -9 leaves them ``running`` for the next ``resume`` to redo. ``done`` rows are never redone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, TypeVar

from arena.engines.router import Router
from arena.errors import Conflict
from arena.evaluation.bench.claim import HEARTBEAT_S, new_worker, retire_worker, worker_alive
from arena.evaluation.bench.steps import (
    ItemResult,
    PairResult,
    answer_item,
    describe_environment,
    item_grader,
    item_label,
    item_options,
    judge_items,
    judge_options,
    judgment_row,
    origin,
    pair_label,
    pair_task,
)
from arena.evaluation.budget import UNLIMITED, Budget
from arena.evaluation.judge.task import JudgeTask
from arena.storage import bench as store
from arena.storage.bench_models import BenchItem, BenchJudgment, BenchRun
from arena.storage.db import Database


@dataclass(frozen=True, kw_only=True)
class WorkEvent:
    """One unit of work finished (or was put back); the CLI's progress bar listens to these."""

    kind: str  # "item" | "judgment"
    status: str  # done | error | skipped
    label: str
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class RunResult:
    run_id: str
    status: str  # done | cancelled | interrupted
    items: dict[str, int]
    judgments: dict[str, int]

    @property
    def failed(self) -> int:
        return self.items.get("error", 0) + self.judgments.get("error", 0)


Listener = Callable[[WorkEvent], None]
T = TypeVar("T")
logger = logging.getLogger(__name__)


class BenchRunner:
    def __init__(
        self,
        *,
        database: Database,
        router: Router,
        run_id: str,
        timeout_s: float = 300.0,
        listener: Listener | None = None,
        budget: Budget = UNLIMITED,
        budget_key: str = "local",
    ) -> None:
        self.database = database
        self.budget, self.budget_key = budget, budget_key  # every generation draws one unit
        self.router = router
        self.run_id = run_id
        self.timeout_s = timeout_s
        self.listener = listener or (lambda event: None)
        self.worker = new_worker()
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._concurrency = 1
        self._tasks: set[asyncio.Task[None]] = set()
        self._writes: set[asyncio.Future[Any]] = set()
        self._stop = asyncio.Event()
        self._cancelled = False
        self._lost_claim = False
        # (prompt_id, repeat, instance_id) -> (item id, status), to know when a pair can be judged.
        self._item_state: dict[tuple[str, int, str], tuple[int, str]] = {}
        self._waiting: dict[tuple[str, int], list[BenchJudgment]] = {}

    # -- the run as a whole ------------------------------------------------------------------

    async def run(self, *, retry_errors: bool = False) -> RunResult:
        """Claim the run and work until everything is finished, or the run is stopped."""
        try:
            environment = await self._environment()
            run = await asyncio.to_thread(self._claim, environment, retry_errors)
        except BaseException:
            retire_worker(self.worker)
            raise
        heartbeat = asyncio.create_task(self._heartbeat(), name=f"bench-heartbeat-{self.run_id}")
        final = "interrupted"
        try:
            await self._work(run)
            if self._cancelled:
                final = "cancelled"
            elif self._stop.is_set() or self._lost_claim:
                final = "interrupted"
            else:
                final = "done"
        finally:
            if self._tasks:  # stopped from outside (Ctrl-C, shutdown): nothing may run past the release
                self.stop()
                await asyncio.gather(*self._tasks, return_exceptions=True)
            # A write a cancelled task began still lands; the release must come after it.
            await asyncio.gather(*self._writes, return_exceptions=True)
            heartbeat.cancel()
            with suppress(asyncio.CancelledError):
                await heartbeat
            if not self._lost_claim:
                # Synchronous on purpose: a cancelled task may not get another chance to await.
                final = self._release(final)
            retire_worker(self.worker)
        return await asyncio.to_thread(self._result, final)

    def _tell(self, event: WorkEvent) -> None:
        try:
            self.listener(event)
        except Exception:  # a progress display must never stop a benchmark
            logger.exception("a benchmark progress listener failed")

    def stop(self) -> None:
        """Stop soon, leaving unfinished work pending (as an interruption, not a cancel)."""
        self._stop.set()
        for task in list(self._tasks):
            task.cancel()

    def _claim(self, environment: dict[str, Any], retry_errors: bool) -> BenchRun:
        with self.database.session() as session:
            run = store.get_run(session, run_id=self.run_id)
            if run.queued_at is not None or worker_alive(run.worker, heartbeat_at=run.heartbeat_at):
                who = "queued for bench workers" if run.queued_at else f"being run by {run.worker}"
                raise Conflict(f"benchmark run {run.id} is {who} right now: wait for it, or cancel it")
            if run.status == "done" and not retry_errors:
                raise Conflict(f"benchmark run {run.id} has already finished; retry its failed items to run it again")
            store.claim_run(session, run_id=run.id, worker=self.worker, expected_worker=run.worker)
            store.reset_unfinished(session, run_id=run.id, retry_errors=retry_errors)
            store.add_environment(session, run_id=run.id, entry={**environment, "worker": self.worker})
            return store.get_run(session, run_id=run.id)

    def _release(self, status: str) -> str:
        with self.database.session() as session:
            # Nothing of this worker runs any more: whatever it left running must be done again.
            store.reset_unfinished(session, run_id=self.run_id)
            left = sum(
                store.status_counts(session, run_id=self.run_id, work=work).get("pending", 0)
                for work in (BenchItem, BenchJudgment)
            )
            if status == "done" and left:
                logger.warning("benchmark run %s ended with %d units not done; resume it", self.run_id, left)
                status = "interrupted"
            store.release_run(session, run_id=self.run_id, worker=self.worker, status=status)
        return status

    def _result(self, status: str) -> RunResult:
        with self.database.session() as session:
            return RunResult(
                run_id=self.run_id,
                status=status,
                items=store.status_counts(session, run_id=self.run_id, work=BenchItem),
                judgments=store.status_counts(session, run_id=self.run_id, work=BenchJudgment),
            )

    async def _environment(self) -> dict[str, Any]:
        return await describe_environment(self.router)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                cancel = await asyncio.to_thread(self._beat)
            except Conflict:
                self._lost_claim = True  # another process took the run over: its rows are its own now
                self.stop()
                return
            if cancel and not self._cancelled:
                self._cancelled = True
                self.stop()

    def _beat(self) -> bool:
        with self.database.session() as session:
            return store.heartbeat(session, run_id=self.run_id, worker=self.worker)

    async def _work(self, run: BenchRun) -> None:
        self._concurrency = run.concurrency
        items, judgments = await asyncio.to_thread(self._load)
        for item in items:
            if item.status == "pending":
                self._spawn(self._do_item(item, run))
        for judgment in judgments:
            self._waiting.setdefault((judgment.prompt_id, judgment.repeat), []).append(judgment)
        for key in list(self._waiting):
            await self._release_ready(key, run)
        while self._tasks:
            done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                self._tasks.discard(task)
                if not task.cancelled() and task.exception() is not None:
                    self.stop()
                    raise task.exception()  # type: ignore[misc]
            if self._stop.is_set():
                await asyncio.gather(*self._tasks, return_exceptions=True)
                self._tasks.clear()

    def _load(self) -> tuple[list[BenchItem], list[BenchJudgment]]:
        with self.database.session() as session:
            items = store.list_items(session, run_id=self.run_id)
            judgments = store.list_judgments(session, run_id=self.run_id, statuses=["pending"])
        for item in items:
            self._item_state[(item.prompt_id, item.repeat, item.instance_id)] = (item.id, item.status)
        return items, judgments

    def _spawn(self, coroutine: Any) -> None:
        if self._stop.is_set():
            coroutine.close()
            return
        self._tasks.add(asyncio.create_task(coroutine))

    def _slot(self, model_id: str) -> asyncio.Semaphore:
        """One semaphore per engine endpoint; Ollama's hosts share one, sized for all of them."""
        ref = self.router.parse(model_id)
        key = f"openai:{ref.endpoint}" if ref.kind == "openai" else ref.kind
        if key not in self._slots:
            hosts = len(self.router.of_kind("ollama")) if ref.kind == "ollama" else 1
            self._slots[key] = asyncio.Semaphore(self._concurrency * max(1, hosts))
        return self._slots[key]

    @asynccontextmanager
    async def _room(self, model_id: str) -> AsyncIterator[None]:
        """A slot of the model's endpoint, then one unit of the owner's generation budget."""
        async with self._slot(model_id), self.budget.wait(self.budget_key):
            yield

    # -- one item --------------------------------------------------------------------------

    async def _do_item(self, item: BenchItem, run: BenchRun) -> None:
        instance = next(i for i in run.instances if i["instance_id"] == item.instance_id)
        async with self._room(item.model):
            if self._stop.is_set():
                return
            # A stop from here on leaves the row running; releasing the run puts it back.
            attempt = await self._write(self._start, BenchItem, item.id, item.model)
            result = await answer_item(
                router=self.router,
                item=item,
                options=item_options(item, instance),
                system=run.system,
                timeout_s=self.timeout_s,
                grader=item_grader(
                    router=self.router, item=item, judge=run.judge, run_seed=run.seed, timeout_s=self.timeout_s
                ),
            )
        if not await self._write(self._finish_item, item.id, attempt, result):
            return
        self._item_state[(item.prompt_id, item.repeat, item.instance_id)] = (item.id, result.status)
        self._tell(WorkEvent(kind="item", status=result.status, label=item_label(item), error=result.error))
        await self._release_ready((item.prompt_id, item.repeat), run)

    # -- judging ---------------------------------------------------------------------------

    async def _release_ready(self, key: tuple[str, int], run: BenchRun) -> None:
        """Start the pairs of this prompt whose answers are both done; skip those that cannot be."""
        prompt_id, repeat = key
        waiting = self._waiting.get(key, [])
        skipped: list[tuple[BenchJudgment, str]] = []
        for judgment in list(waiting):
            sides = (judgment.instance_a, judgment.instance_b)
            states = {side: self._item_state.get((prompt_id, repeat, side), (0, "error"))[1] for side in sides}
            failed = [side for side in sides if states[side] == "error"]
            if failed:
                waiting.remove(judgment)
                skipped.append((judgment, f"no answer to judge from {', '.join(failed)}"))
            elif all(state == "done" for state in states.values()):
                waiting.remove(judgment)
                self._spawn(self._do_judgment(judgment, run))
        if skipped:
            await self._write(self._skip, skipped)
            for judgment, reason in skipped:
                self._tell(WorkEvent(kind="judgment", status="skipped", label=pair_label(judgment), error=reason))

    async def _do_judgment(self, judgment: BenchJudgment, run: BenchRun) -> None:
        assert run.judge is not None
        async with self._room(run.judge["model"]):
            if self._stop.is_set():
                return
            attempt = await self._write(self._start, BenchJudgment, judgment.id, run.judge["model"])
            task = await asyncio.to_thread(self._pair_task, judgment, run.system)
            result = await judge_items(
                router=self.router,
                model_id=run.judge["model"],
                options=judge_options(run.judge, run_seed=run.seed, repeat=judgment.repeat),
                task=task,
                timeout_s=self.timeout_s,
            )
        if await self._write(self._finish_judgment, judgment, attempt, result):
            self._tell(WorkEvent(kind="judgment", status=result.status, label=pair_label(judgment), error=result.error))

    def _pair_task(self, judgment: BenchJudgment, system: str | None) -> JudgeTask:
        ids = [
            self._item_state[(judgment.prompt_id, judgment.repeat, side)][0]
            for side in (judgment.instance_a, judgment.instance_b)
        ]
        with self.database.session() as session:
            first, second = (session.get(BenchItem, item_id) for item_id in ids)
        assert first is not None and second is not None
        return pair_task(first=first, second=second, system=system)

    # -- rows ------------------------------------------------------------------------------

    async def _write(self, function: Callable[..., T], *args: Any) -> T:
        """Run a database write on a worker thread; cancelling the caller does not abandon it."""
        future = asyncio.ensure_future(asyncio.to_thread(function, *args))
        self._writes.add(future)
        future.add_done_callback(self._writes.discard)
        return await asyncio.shield(future)

    def _start(self, work: type[BenchItem] | type[BenchJudgment], work_id: int, model: str) -> int:
        with self.database.session() as session:
            where = origin(self.router, model, worker=self.worker)
            return store.start_work(session, work=work, work_id=work_id, **where)

    def _finish_item(self, item_id: int, attempt: int, result: ItemResult) -> bool:
        """Write the answer; False when this attempt no longer owns the row (the run was taken over)."""
        try:
            with self.database.session() as session:
                store.finish_work(
                    session,
                    work=BenchItem,
                    work_id=item_id,
                    attempt=attempt,
                    status=result.status,
                    **result.row_values(),
                )
        except Conflict:
            return False
        return True

    def _finish_judgment(self, judgment: BenchJudgment, attempt: int, result: PairResult) -> bool:
        try:
            with self.database.session() as session:
                values = judgment_row(session, run_id=self.run_id, category=judgment.category, result=result)
                store.finish_work(session, work=BenchJudgment, work_id=judgment.id, attempt=attempt, **values)
        except Conflict:
            return False
        return True

    def _skip(self, skipped: list[tuple[BenchJudgment, str]]) -> None:
        with self.database.session() as session:
            for judgment, reason in skipped:
                store.skip_judgments(session, judgment_ids=[judgment.id], reason=reason)
