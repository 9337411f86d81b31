"""Record every generation as it streams, so a stream cut short keeps its partial text."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from arena.errors import Conflict
from arena.evaluation.conversation.compare import FinishEvent, Target
from arena.storage import answer_end, answer_metrics, repository
from arena.storage import votes as vote_store
from arena.storage.db import Database
from arena.storage.failures import is_database_failure, reason

logger = logging.getLogger(__name__)
FLUSH_INTERVAL_S = 0.5
# A final write the database refused is tried again after each of these pauses: quickly at first
# (a PostgreSQL restart), then every half minute for about five minutes in all (an outage of a
# minute must not leave rows `streaming` with their text lost); after that, recovery closes it.
RETRY_DELAYS_S: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, *(30.0,) * 9)
_retries: set[asyncio.Task[None]] = set()  # held, so a retry is not collected mid-way


def storable(text: str) -> str:
    """PostgreSQL text cannot hold NUL; a model may still produce one."""
    return text.replace("\x00", "\ufffd")


class ResponseRecorder:
    """A compare Sink that writes responses to the database.

    Partial text is flushed at most every FLUSH_INTERVAL_S on a worker thread, off the token
    path; the final state is written synchronously, because a cancelled task may not get
    another chance to await.

    Made without a turn, it holds everything until `attach()`: generation can start while
    the turn is still being written. If it is never attached (the turn could not be
    written), it writes nothing at all.
    """

    def __init__(
        self,
        *,
        database: Database,
        turn_id: int | None = None,
        response_ids: dict[str, int] | None = None,
        flush_interval_s: float = FLUSH_INTERVAL_S,
    ) -> None:
        self.database = database
        self.turn_id = turn_id
        self.flush_interval_s = flush_interval_s
        self.response_ids: dict[str, int] = dict(response_ids or {})
        self._parts: dict[str, list[str]] = {}
        self._dirty: set[str] = set()
        self._pending: dict[str, tuple[Target, FinishEvent]] = {}
        self._last_flush = time.monotonic()
        self._flush_task: asyncio.Task[None] | None = None

    @property
    def attached(self) -> bool:
        return self.turn_id is not None

    def attach(self, *, turn_id: int, response_ids: dict[str, int]) -> dict[str, Exception]:
        """The turn and its responses now exist: write what finished meanwhile. Returns the
        instances whose end could not be written, for `Comparison.record_failed`."""
        self.turn_id = turn_id
        self.response_ids.update(response_ids)
        pending, self._pending = self._pending, {}
        failed: dict[str, Exception] = {}
        for target, event in pending.values():
            try:
                self.finished(target, event)
            except Exception as exc:  # a retry is under way if the database may come back
                failed[target.instance_id] = exc
        return failed

    def started(self, target: Target) -> None:
        self._parts[target.instance_id] = []
        if self.turn_id is None or target.instance_id in self.response_ids:
            return  # written with the turn, or will be at attach()
        with self.database.session() as session:
            # Started alone on a written turn (a regenerate): a round of its own, never compared
            # for speed with answers generated together earlier.
            generation_round = answer_metrics.next_generation_round(session, turn_id=self.turn_id)
            # A pairwise verdict about the answer being replaced must not count for the new one.
            vote_store.clear_pairwise_on_regenerate(session, turn_id=self.turn_id)
            response = repository.start_response(
                session, turn_id=self.turn_id, instance_id=target.instance_id, generation_round=generation_round
            )
            self.response_ids[target.instance_id] = response.id

    def token(self, target: Target, text: str) -> None:
        self._parts[target.instance_id].append(text)
        self._dirty.add(target.instance_id)
        now = time.monotonic()
        if not self.attached or now - self._last_flush < self.flush_interval_s:
            return
        if self._flush_task is None or self._flush_task.done():
            self._last_flush = now
            snapshot = {iid: "".join(self._parts[iid]) for iid in self._dirty if iid in self.response_ids}
            self._dirty.clear()
            self._flush_task = asyncio.create_task(asyncio.to_thread(self._write_partial, snapshot))

    def _write_partial(self, texts: dict[str, str]) -> None:
        try:
            with self.database.session() as session:
                for instance_id, text in texts.items():
                    try:
                        repository.update_response_text(
                            session, response_id=self.response_ids[instance_id], text=storable(text)
                        )
                    except Conflict:
                        pass  # the final text landed first; a late partial must not overwrite it
        except Exception as exc:  # the final write still comes (and says so if it fails too)
            logger.warning("could not save partial answers of turn %s: %s", self.turn_id, reason(exc))

    def finished(self, target: Target, event: FinishEvent) -> None:
        self._dirty.discard(target.instance_id)
        if target.instance_id not in self.response_ids:
            self._pending[target.instance_id] = (target, event)
            return
        response_id = self.response_ids[target.instance_id]
        try:
            self._write_final(response_id, event)
        except Exception as exc:
            if is_database_failure(exc):
                self._retry_later(response_id, event)
            raise

    def _retry_later(self, response_id: int, event: FinishEvent) -> None:
        try:
            task = asyncio.get_running_loop().create_task(self._retry(response_id, event))
        except RuntimeError:  # no event loop (a synchronous caller): start-up recovery closes it
            return
        _retries.add(task)
        task.add_done_callback(_retries.discard)

    async def _retry(self, response_id: int, event: FinishEvent) -> None:
        """Close the row once the database is back; the client has already been told it failed."""
        last = "not tried"
        for delay in RETRY_DELAYS_S:
            await asyncio.sleep(delay)
            try:
                await asyncio.to_thread(self._write_final, response_id, event)
            except Conflict:
                return  # closed meanwhile (by recovery)
            except Exception as exc:
                last = reason(exc)
                continue
            logger.warning("saved response %s on a later try, after the database came back", response_id)
            return
        logger.error("response %s is still unsaved (%s); start-up recovery will close it", response_id, last)

    def _write_final(self, response_id: int, event: FinishEvent) -> None:
        """One statement (answer_end): it runs on the event loop as the instance ends."""
        metrics = event.metrics
        values: dict[str, Any] = {}
        if metrics is not None:
            values = {"prompt_tokens": metrics.prompt_tokens, "completion_tokens": metrics.tokens}
            values |= {"ttft_s": metrics.ttft_s, "duration_s": metrics.duration_s}
            values["tokens_per_sec"] = metrics.tokens_per_sec
            values |= answer_metrics.cache_and_finish_values(
                cached_prompt_tokens=metrics.cached_prompt_tokens,
                prompt_s=metrics.prompt_s,
                finish_reason=metrics.finish_reason,
                wait_s=metrics.wait_s,
                load_s=metrics.load_s,
                engine_timed=metrics.engine_timed,
                contended=metrics.contended,
            )
        with self.database.session() as session:
            answer_end.close_response(
                session,
                response_id=response_id,
                text=storable(event.text),
                status=event.status,
                error=event.error,
                values=values,
            )
