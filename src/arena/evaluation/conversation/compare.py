"""Fan one turn out to N model instances and merge their chunks into one event stream.

Each instance runs in its own task: one failing, timing out or being stopped never ends
the others. A `Sink` hears every instance's start, text and finish from inside that task,
so a result is recorded even when the consumer of the merged stream has gone away. A sink
that fails (the database is down) never keeps an instance from ending: its FinishEvent is
queued all the same, as an error that says the answer was not saved.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Literal, Protocol

from arena.engines.base import GenerationRequest, Message, SamplingOptions, Usage
from arena.engines.router import Router
from arena.errors import ArenaError, EngineError, EngineTimeout, StorageUnavailable
from arena.evaluation.conversation import contention
from arena.storage.failures import reason

logger = logging.getLogger(__name__)

Status = Literal["ok", "error", "stopped"]
FINISH_REASON_LENGTH = 32  # engines say "stop", "length", "load"…; the column holds this many


@dataclass(frozen=True, kw_only=True)
class Target:
    instance_id: str
    model: str
    options: SamplingOptions
    messages: list[Message]
    json_schema: dict | None = None


@dataclass(frozen=True, kw_only=True)
class Metrics:
    prompt_tokens: int | None
    tokens: int
    ttft_s: float | None
    duration_s: float
    tokens_per_sec: float | None
    # What makes two answers comparable: how much of the prompt a warm cache served (it
    # shortens the first token), the engine's prompt-processing time, and why generation
    # ended ("length": at the token limit). None: the engine did not say.
    cached_prompt_tokens: int | None = None
    prompt_s: float | None = None
    finish_reason: str | None = None
    # Seconds waiting for a free engine slot (an answer that waited ran under another load:
    # not "generated together") and loading the model, both inside ttft_s; None: not said.
    wait_s: float | None = None
    load_s: float | None = None
    # tokens_per_sec comes from the engine's own generation clock (a warm prompt cache cannot
    # touch it), not from the wall clock between the first and last token.
    engine_timed: bool = False
    # A generation of another round (another conversation, a regenerate, a judge, a bench
    # item) ran at some moment of this one: it slowed this answer alone, so no speed compare.
    contended: bool = False
    # Prompt tokens evaluated once for this answer and others started with it (embedded batch),
    # and sampling settings the engine added to the instance's own; None: not said.
    shared_prompt_tokens: int | None = None
    engine_settings: dict[str, float] | None = None

    def to_dict(self) -> dict[str, float | int | str | bool | dict[str, float] | None]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "tokens": self.tokens,
            "ttft_s": self.ttft_s,
            "duration_s": self.duration_s,
            "tokens_per_sec": self.tokens_per_sec,
            "cached_prompt_tokens": self.cached_prompt_tokens,
            "prompt_s": self.prompt_s,
            "finish_reason": self.finish_reason,
            "wait_s": self.wait_s,
            "load_s": self.load_s,
            "engine_timed": self.engine_timed,
            "contended": self.contended,
            "shared_prompt_tokens": self.shared_prompt_tokens,
            "engine_settings": self.engine_settings,
        }


@dataclass(frozen=True, kw_only=True)
class TokenEvent:
    instance_id: str
    model: str
    text: str


@dataclass(frozen=True, kw_only=True)
class FinishEvent:
    instance_id: str
    model: str
    status: Status
    text: str
    error: str | None = None
    metrics: Metrics | None = None
    # The exception behind an error, so an entry point can choose its status code.
    exception: BaseException | None = field(default=None, compare=False, repr=False)


Event = TokenEvent | FinishEvent


class Sink(Protocol):
    def started(self, target: Target) -> None: ...
    def token(self, target: Target, text: str) -> None: ...
    def finished(self, target: Target, event: FinishEvent) -> None: ...


class NullSink:
    def started(self, target: Target) -> None:
        pass

    def token(self, target: Target, text: str) -> None:
        pass

    def finished(self, target: Target, event: FinishEvent) -> None:
        pass


def compute_metrics(
    *,
    usage: Usage | None,
    started: float,
    first: float | None,
    ended: float,
    pieces: int,
    finish_reason: str | None = None,
    contended: bool = False,
) -> Metrics:
    """Wall-clock TTFT and duration from the caller; counts (and, when the engine has one,
    generation time) from the engine. Without an engine timing, tokens/s is the rate between
    the first and the last token."""
    tokens = usage.completion_tokens if usage else pieces
    duration = ended - started
    ttft = (first - started) if first is not None else None
    rate: float | None = None
    if usage and usage.generation_s:
        rate = tokens / usage.generation_s
    elif first is not None and tokens > 1 and ended > first:
        rate = (tokens - 1) / (ended - first)
    return Metrics(
        prompt_tokens=usage.prompt_tokens if usage else None,
        tokens=tokens,
        ttft_s=round(ttft, 4) if ttft is not None else None,
        duration_s=round(duration, 4),
        tokens_per_sec=round(rate, 2) if rate is not None else None,
        cached_prompt_tokens=usage.cached_prompt_tokens if usage else None,
        prompt_s=round(usage.prompt_s, 4) if usage and usage.prompt_s is not None else None,
        finish_reason=finish_reason[:FINISH_REASON_LENGTH] if finish_reason else None,
        wait_s=_seconds(usage.wait_s) if usage else None,
        load_s=_seconds(usage.load_s) if usage else None,
        engine_timed=bool(usage and usage.generation_s),
        contended=contended,
        shared_prompt_tokens=usage.shared_prompt_tokens if usage else None,
        engine_settings=usage.engine_settings if usage else None,
    )


def _seconds(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


@dataclass
class _Run:
    target: Target
    parts: list[str] = field(default_factory=list)
    first: float | None = None
    usage: Usage | None = None
    finish_reason: str | None = None


async def _run_one(
    router: Router, target: Target, queue: asyncio.Queue[Event], sink: Sink, timeout_s: float, round_key: object
) -> None:
    run = _Run(target=target)
    started = time.perf_counter()
    running: contention.Running | None = None

    def finish(status: Status, error: str | None = None, exception: BaseException | None = None) -> None:
        metrics = compute_metrics(
            usage=run.usage,
            started=started,
            first=run.first,
            ended=time.perf_counter(),
            pieces=len(run.parts),
            finish_reason=run.finish_reason,
            contended=contention.end(running) if running is not None else False,
        )
        event = FinishEvent(
            instance_id=target.instance_id,
            model=target.model,
            status=status,
            text="".join(run.parts),
            error=error,
            metrics=metrics,
            exception=exception,
        )
        try:
            sink.finished(target, event)
        except Exception as exc:  # the client must hear this instance end even when recording failed
            event = _unrecorded(event, exc)
        queue.put_nowait(event)

    try:
        sink.started(target)
    except Exception as exc:  # nowhere to record the answer: do not generate one
        queue.put_nowait(_unrecorded(_ended(target, "error", "nothing was generated"), exc))
        return
    request = GenerationRequest(
        model=target.model, messages=target.messages, options=target.options, json_schema=target.json_schema
    )
    running = contention.begin(round_key)
    try:
        async with asyncio.timeout(timeout_s):
            async with aclosing(router.stream(target.model, request)) as chunks:
                async for chunk in chunks:
                    if chunk.text:
                        if run.first is None:
                            run.first = time.perf_counter()
                        run.parts.append(chunk.text)
                        sink.token(target, chunk.text)
                        queue.put_nowait(
                            TokenEvent(instance_id=target.instance_id, model=target.model, text=chunk.text)
                        )
                    if chunk.usage is not None:
                        run.usage = chunk.usage
                    run.finish_reason = chunk.finish_reason or run.finish_reason
    except TimeoutError as exc:
        timeout = EngineTimeout(f"no complete answer within {timeout_s:g} s (REQUEST_TIMEOUT)")
        timeout.__cause__ = exc
        finish("error", str(timeout), timeout)
    except asyncio.CancelledError:
        finish("stopped", "stopped before the answer finished")
        raise
    except ArenaError as exc:
        finish("error", str(exc), exc)
    except Exception as exc:  # an engine bug must not take the other instances down
        failure = EngineError(f"unexpected engine failure: {type(exc).__name__}: {exc}")
        failure.__cause__ = exc
        finish("error", str(failure), failure)
    else:
        finish("ok")


UNSAVED_ERROR = (
    "the answer could not be saved yet (the database did not accept it); it is tried again for a few "
    "minutes: reload the conversation to see whether it was kept"
)


def _ended(target: Target, status: Status, error: str | None) -> FinishEvent:
    metrics = compute_metrics(usage=None, started=0.0, first=None, ended=0.0, pieces=0)
    return FinishEvent(instance_id=target.instance_id, model=target.model, status=status, error=error, text="", metrics=metrics)


def _unrecorded(event: FinishEvent, exc: Exception) -> FinishEvent:
    """`event` as an error: the sink could not record it. Logged without the prompt or answer."""
    logger.error(
        "could not record the end of instance %s (%s, %d characters): %s",
        event.instance_id,
        event.status,
        len(event.text),
        reason(exc),
    )
    failure = StorageUnavailable(UNSAVED_ERROR if event.status == "ok" else f"{UNSAVED_ERROR}; {event.error}")
    failure.__cause__ = exc
    return dataclasses.replace(event, status="error", error=str(failure), exception=failure)


class Comparison:
    """A comparison already under way: every instance starts generating when this is made.

    Starting before the caller has finished its own bookkeeping (writing the turn) hides
    that bookkeeping from the time to first token; `events()` then yields what arrived.
    """

    def __init__(
        self,
        *,
        router: Router,
        targets: list[Target],
        sink: Sink | None = None,
        timeout_s: float = 300.0,
        stops: dict[str, asyncio.Event] | None = None,
    ) -> None:
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        sink = sink or NullSink()
        self._tasks = {
            t.instance_id: asyncio.create_task(
                _run_one(router, t, self._queue, sink, timeout_s, round_key=self), name=t.instance_id
            )
            for t in targets
        }
        self._watchers: list[asyncio.Task[None]] = []
        self._unrecorded: dict[str, Exception] = {}
        self.watch(stops or {})

    def record_failed(self, instance_id: str, exc: Exception) -> None:
        """The sink could not record an instance that finished before the sink could write
        (a recorder not yet attached): its FinishEvent, not yet read, becomes an error."""
        self._unrecorded[instance_id] = exc

    def watch(self, stops: dict[str, asyncio.Event]) -> None:
        """Setting `stops[instance_id]` stops that instance alone."""
        self._watchers += [
            asyncio.create_task(_stop_when_set(event, self._tasks[iid]))
            for iid, event in stops.items()
            if iid in self._tasks
        ]

    async def events(self) -> AsyncIterator[Event]:
        """Every instance's tokens as they arrive, then one FinishEvent per instance."""
        async for batch in self.batches():
            for event in batch:
                yield event

    async def batches(self) -> AsyncIterator[list[Event]]:
        """The same events, each time all that have arrived: under load, one write can carry
        several lines (never waits for more than the first)."""
        remaining = len(self._tasks)
        while remaining:
            arrived = [await self._queue.get()]
            while not self._queue.empty():
                arrived.append(self._queue.get_nowait())
            batch = []
            for event in arrived:
                if isinstance(event, FinishEvent):
                    remaining -= 1
                    if (failure := self._unrecorded.pop(event.instance_id, None)) is not None:
                        event = _unrecorded(event, failure)
                batch.append(event)
            yield batch

    async def aclose(self) -> None:
        """Stop every instance still generating and wait until each has recorded its end."""
        tasks = [*self._tasks.values(), *self._watchers]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def compare(
    *,
    router: Router,
    targets: list[Target],
    sink: Sink | None = None,
    timeout_s: float = 300.0,
    stops: dict[str, asyncio.Event] | None = None,
) -> AsyncIterator[Event]:
    """Run a Comparison and yield its events; closing this generator stops every instance."""
    comparison = Comparison(router=router, targets=targets, sink=sink, timeout_s=timeout_s, stops=stops)
    try:
        async for event in comparison.events():
            yield event
    finally:
        await comparison.aclose()


async def _stop_when_set(event: asyncio.Event, task: asyncio.Task[None]) -> None:
    await event.wait()
    task.cancel()
