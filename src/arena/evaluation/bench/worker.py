"""A bench worker: serve the queued runs of a shared database, one leased row at a time.

Any number of workers (`arena bench worker`, on any host that reaches the database) take rows
from the queue (``storage.bench_queue``): an item, or a pair whose two answers are done. Each
worker has its own engines (its own Settings and Router) and takes ``concurrency`` rows at
once; each generation also waits for a unit of the run owner's generation budget (``budget``,
the one the web processes share through Redis; none without Redis). A heartbeat renews its
leases every third of ``lease_s``; a row it no longer holds (taken over after a stall, or its
run cancelled) is dropped at once. A worker killed with -9 leaves its rows ``running`` until
their leases run out, then another worker takes them with the next attempt; the first attempt
could never store its result.

Stopping (SIGTERM, Ctrl-C) cancels the work in flight and puts its rows back to pending at once.
On SQLite only one worker serves a database (a file lock beside it says who): SQLite has no row
locks, and one writer at a time is all it does well.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import IO, Any, Final, TypeVar

from arena.engines.router import Router
from arena.errors import ArenaError, Conflict, SharedStateUnavailable
from arena.evaluation.bench.claim import new_worker, retire_worker
from arena.evaluation.bench.runner import WorkEvent
from arena.evaluation.bench.steps import (
    answer_item,
    engine_label,
    item_grader,
    item_label,
    item_options,
    judge_items,
    judge_options,
    judgment_row,
    pair_label,
    pair_task,
)
from arena.evaluation.budget import UNLIMITED, Budget, owner_key
from arena.storage import bench as store
from arena.storage import bench_queue as queue
from arena.storage.bench_models import BenchItem, BenchJudgment, BenchRun
from arena.storage.db import Database
from arena.storage.models import utcnow

DEFAULT_LEASE_S: Final = 30.0
DEFAULT_POLL_S: Final = 1.0
BUDGET_RETRY_S: Final = 2.0  # a look at an unreachable shared budget this often
Row = tuple[str, int]  # (table, id)
T = TypeVar("T")
logger = logging.getLogger(__name__)


class BenchWorker:
    def __init__(
        self,
        *,
        database: Database,
        router: Router,
        concurrency: int = 2,
        lease_s: float = DEFAULT_LEASE_S,
        poll_s: float = DEFAULT_POLL_S,
        timeout_s: float = 300.0,
        environment: dict[str, Any] | None = None,
        listener: Callable[[WorkEvent], None] | None = None,
        budget: Budget = UNLIMITED,
    ) -> None:
        self.database, self.router, self.budget = database, router, budget
        self.concurrency, self.lease_s, self.poll_s, self.timeout_s = concurrency, lease_s, poll_s, timeout_s
        self.environment = environment or {}
        self.listener = listener or (lambda event: None)
        self.worker = new_worker()
        self.origin = {"host": socket.gethostname(), "worker": self.worker}
        self._stop = asyncio.Event()
        self._tasks: dict[Row, asyncio.Task[None]] = {}
        self._writes: set[asyncio.Future[Any]] = set()
        self._started_runs: set[str] = set()
        self._runs: dict[str, BenchRun] = {}
        self._missing: set[str] = set()  # models named in the queue that this worker cannot serve

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Serve the queue until ``stop()``; then put back whatever was in flight."""
        heartbeat = asyncio.create_task(self._heartbeat(), name=f"bench-worker-heartbeat-{self.worker}")
        stopping = asyncio.create_task(self._stop.wait())
        try:
            while not self._stop.is_set():
                if len(self._tasks) >= self.concurrency:  # every slot busy: wait for one, or for the stop
                    await asyncio.wait([*self._tasks.values(), stopping], return_when=asyncio.FIRST_COMPLETED)
                    continue
                try:
                    claimed = await self._write(self._claim, *await self._servable())
                except Exception:  # the database is away: a worker outlives the outage
                    logger.warning("bench worker %s could not claim work", self.worker, exc_info=True)
                    claimed = None
                if claimed is None:  # nothing to do: look again in a moment
                    await asyncio.wait([stopping], timeout=self.poll_s)
                    continue
                row, coroutine = claimed
                task = asyncio.create_task(self._guarded(row, coroutine), name=f"bench-{row[0]}-{row[1]}")
                self._tasks[row] = task
                task.add_done_callback(lambda _task, row=row: self._tasks.pop(row, None))
        finally:
            for task in list(self._tasks.values()):
                task.cancel()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
            await asyncio.gather(*self._writes, return_exceptions=True)  # a finish begun still lands first
            for helper in (heartbeat, stopping):
                helper.cancel()
                with suppress(asyncio.CancelledError):
                    await helper
            with self.database.session() as session:  # synchronous: nothing may run past it
                returned = queue.release(session, worker=self.worker)
            if returned:
                logger.info("bench worker %s put %d rows back to pending", self.worker, returned)
            retire_worker(self.worker)

    async def _guarded(self, row: Row, work: Coroutine[Any, Any, None]) -> None:
        """One row's work; an unexpected failure (the database, a bug) hands the row back, not the worker down."""
        try:
            await work
        except Exception:
            logger.exception("bench worker %s failed on %s row %d; it goes back to the queue", self.worker, *row)
            with suppress(Exception):
                await asyncio.to_thread(self._release, {row})

    def _tell(self, event: WorkEvent) -> None:
        try:
            self.listener(event)
        except Exception:  # a progress display must never stop a worker
            logger.exception("a bench worker listener failed")

    async def _write(self, function: Callable[..., T], *args: Any) -> T:
        """A database call on a thread; cancelling the caller does not abandon it halfway."""
        future = asyncio.ensure_future(asyncio.to_thread(function, *args))
        self._writes.add(future)
        future.add_done_callback(self._writes.discard)
        return await asyncio.shield(future)

    # -- claiming --------------------------------------------------------------------------

    async def _servable(self) -> tuple[set[str], set[str]]:
        """The queued runs' models this worker's engines serve now, and the runs whose judge they
        serve: a worker without a model leaves its items to a worker that has it."""
        known = {model.id for model in (await self.router.inventory()).models}
        runs = await asyncio.to_thread(self._queued_runs)

        def serves(model: str) -> bool:
            try:
                found = self.router.canonical_id(model) in known
            except ArenaError:
                found = False
            if not found and model not in self._missing:
                self._missing.add(model)
                logger.warning("bench worker %s leaves %s to other workers: its engines lack it", self.worker, model)
            return found

        models = {i["model"] for _, instances, _ in runs for i in instances if serves(i["model"])}
        return models, {run_id for run_id, _, judge in runs if judge and serves(judge["model"])}

    def _queued_runs(self) -> list[tuple[str, list[dict[str, Any]], dict[str, Any] | None]]:
        with self.database.session() as session:
            return queue.queued_runs(session)

    def _claim(self, models: set[str], judged_runs: set[str]) -> tuple[Row, Any] | None:
        lease = {"worker": self.worker, "host": str(self.origin["host"]), "lease_s": self.lease_s}
        engine_of = lambda model: engine_label(self.router, model)  # noqa: E731
        with self.database.session() as session:
            pair = queue.claim_judgment(session, engine_of=engine_of, run_ids=judged_runs, **lease)
            item = None if pair else queue.claim_item(session, engine_of=engine_of, models=models, **lease)
        claimed = pair or item
        if claimed is None:  # idle: settle what a crashed worker left unsettled
            with self.database.session() as session:
                queue.skip_unanswerable(session)
                for run_id in queue.complete_finished(session):
                    logger.info("benchmark run %s is done", run_id)
            return None
        row, attempt = claimed
        self._mark_started(row.run_id)
        if isinstance(row, BenchJudgment):
            return ("bench_judgments", row.id), self._judge(row, attempt)
        return ("bench_items", row.id), self._answer(row, attempt)

    def _mark_started(self, run_id: str) -> None:
        with self.database.session() as session:
            self._runs[run_id] = store.get_run(session, run_id=run_id)
            if run_id not in self._started_runs:
                entry = {**self.environment, **self.origin, "started_at": utcnow().isoformat()}
                queue.mark_started(session, run_id=run_id, entry=entry)
                self._started_runs.add(run_id)

    # -- the work --------------------------------------------------------------------------

    @asynccontextmanager
    async def _unit(self, key: str) -> AsyncIterator[None]:
        """One unit of `key`'s generation budget for the block, behind every waiting interactive
        request. While the shared budget is unreachable the row stays this worker's (its lease
        renewed) and the wait is tried again: an outage delays the queue, it burns no attempts."""
        async with AsyncExitStack() as held:
            unreachable = False
            while True:
                try:
                    await held.enter_async_context(self.budget.wait(key))
                    break
                except SharedStateUnavailable:
                    if not unreachable:
                        logger.warning("bench worker %s waits for the shared generation budget", self.worker)
                    unreachable = True
                    await asyncio.sleep(BUDGET_RETRY_S)
            if unreachable:
                logger.info("bench worker %s reached the shared generation budget again", self.worker)
            yield

    async def _answer(self, item: BenchItem, attempt: int) -> None:
        run = self._runs[item.run_id]
        instance = next(i for i in run.instances if i["instance_id"] == item.instance_id)
        async with self._unit(owner_key(run.owner_id)):
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
        values = result.row_values()
        if await self._write(self._finish, BenchItem, item.id, item.run_id, attempt, result.status, values):
            self._tell(WorkEvent(kind="item", status=result.status, label=item_label(item), error=result.error))

    async def _judge(self, judgment: BenchJudgment, attempt: int) -> None:
        run = self._runs[judgment.run_id]
        assert run.judge is not None
        task = await asyncio.to_thread(self._pair_task, judgment, run.system)
        async with self._unit(owner_key(run.owner_id)):
            result = await judge_items(
                router=self.router,
                model_id=run.judge["model"],
                options=judge_options(run.judge, run_seed=run.seed, repeat=judgment.repeat),
                task=task,
                timeout_s=self.timeout_s,
            )
        if await self._write(self._finish_judgment, judgment, attempt, result):
            self._tell(WorkEvent(kind="judgment", status=result.status, label=pair_label(judgment), error=result.error))

    def _pair_task(self, judgment: BenchJudgment, system: str | None) -> Any:
        with self.database.session() as session:
            answers = queue.pair_answers(session, judgment=judgment)
        return pair_task(first=answers[judgment.instance_a], second=answers[judgment.instance_b], system=system)

    def _finish(self, work: type[BenchItem], work_id: int, run_id: str, attempt: int, status: str, values: Any) -> bool:
        """Store the result if this worker still holds the row; False when it was taken over."""
        try:
            with self.database.session() as session:
                queue.finish(
                    session, work=work, work_id=work_id, attempt=attempt, worker=self.worker, status=status, **values
                )
                if status == "error":  # in the same commit: its pairs can never be judged
                    queue.skip_unanswerable(session)
        except Conflict:
            logger.warning(
                "bench worker %s lost %s row %d before finishing it", self.worker, work.__tablename__, work_id
            )
            return False
        self._complete(run_id)
        return True

    def _finish_judgment(self, judgment: BenchJudgment, attempt: int, result: Any) -> bool:
        try:
            with self.database.session() as session:
                values = judgment_row(session, run_id=judgment.run_id, category=judgment.category, result=result)
                queue.finish(
                    session, work=BenchJudgment, work_id=judgment.id, attempt=attempt, worker=self.worker, **values
                )
        except Conflict:  # the verdict rolled back with it: stored once, by whoever holds the row
            logger.warning("bench worker %s lost judgment %d before finishing it", self.worker, judgment.id)
            return False
        self._complete(judgment.run_id)
        return True

    def _complete(self, run_id: str) -> None:
        """After the finish's commit, so of two workers finishing the last two rows, the later sees both."""
        with self.database.session() as session:
            if queue.complete_if_finished(session, run_id=run_id):
                logger.info("benchmark run %s is done", run_id)

    # -- leases ----------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        orphans: set[Row] = set()
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                orphans = await self._beat(orphans)
            except Exception:  # the database is away: keep working; a lost lease shows at finish
                logger.warning("bench worker %s could not renew its leases", self.worker, exc_info=True)

    async def _beat(self, orphans: set[Row]) -> set[Row]:
        """Renew the leases; stop the work on rows no longer held; hand back rows held with no work
        (two beats running, so a claim whose task is about to start is left alone)."""
        claimed = set(self._tasks)  # committed before the renewal reads: a later claim is not "lost"
        held = await asyncio.to_thread(self._renew)
        lost = {row for row in claimed if row not in held and row in self._tasks}
        for row in lost:  # taken over, or its run was cancelled: stop it, hand back what is still ours
            self._tasks[row].cancel()
        idle = {row for row in held if row not in self._tasks}
        if lost or idle & orphans:
            await asyncio.to_thread(self._release, lost | (idle & orphans))
        return idle - orphans

    def _renew(self) -> set[Row]:
        with self.database.session() as session:
            return queue.renew(session, worker=self.worker, lease_s=self.lease_s)

    def _release(self, rows: set[Row]) -> None:
        with self.database.session() as session:
            queue.release(session, worker=self.worker, rows=rows)


@contextmanager
def single_sqlite_worker(database: Database) -> Iterator[None]:
    """On SQLite, refuse a second worker on the same file (Conflict); on PostgreSQL, nothing."""
    if not database.is_sqlite or not database.url.database:
        yield
        return
    path = Path(database.url.database).with_name(Path(database.url.database).name + ".bench-worker.lock")
    handle: IO[str] = path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise Conflict(
                f"a bench worker ({holder}) already serves this SQLite database, and SQLite serves one: "
                "stop it first, or use PostgreSQL (ARENA_DATABASE_URL) for several workers"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.close()  # closing lets go of the lock; a killed worker's lock goes with its process
