"""The event-loop side of batching: one decode loop per model, loaded on first use, and each
request's stream fed from its sequence through an asyncio queue.

Requests that arrive in the same event-loop turn (one comparison's instances) are handed to
the loop together, so they join the same step and share their prompt prefix."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from arena.engines.base import Chunk, GenerationRequest
from arena.engines.batch.context import TOKENIZER_N_CTX, BatchContext
from arena.engines.batch.loop import DecodeLoop, Prepare
from arena.engines.batch.sequence import Done, Event, Sequence, Text
from arena.engines.llama_pool import load_llama
from arena.engines.thread_share import ThreadShare
from arena.errors import EngineError

logger = logging.getLogger(__name__)

# Given the loaded Llama object, how to turn a request into tokens and stop strings.
PrepareFor = Callable[[object], Prepare]


class BatchedModels:
    def __init__(self, *, slots: int, n_ctx: int, share: ThreadShare) -> None:
        self.slots = slots
        self.n_ctx = n_ctx
        self._share = share
        self._loops: dict[str, DecodeLoop] = {}
        self._loading: dict[str, asyncio.Task[DecodeLoop]] = {}
        self._arrivals: dict[str, list[Sequence]] = {}
        self._hidden: dict[str, list[DecodeLoop]] = {}  # a deleted file's loops, until their streams end

    def loop(self, name: str) -> DecodeLoop | None:
        return self._loops.get(name)

    async def ensure_loop(
        self, name: str, path: Path, prepare_for: PrepareFor, before_load: Callable[[], None] = lambda: None
    ) -> tuple[DecodeLoop, float | None]:
        """The model's decode loop, loading the model first if needed; the load's seconds or None.
        `before_load` runs on the load's thread first (the memory of the models unloaded for it)."""
        loop = self._loops.get(name)
        if loop is not None:
            return loop, None
        began = time.perf_counter()
        task = self._loading.get(name)
        if task is None:
            task = asyncio.ensure_future(asyncio.to_thread(self._load, name, path, prepare_for, before_load))
            self._loading[name] = task
            task.add_done_callback(lambda t: self._loaded(name, t))  # first: before any waiter resumes
        loop = await asyncio.shield(task)
        return loop, round(time.perf_counter() - began, 4)

    def _loaded(self, name: str, task: asyncio.Task[DecodeLoop]) -> None:
        self._loading.pop(name, None)
        if not task.cancelled() and task.exception() is None:
            self._loops[name] = task.result()

    def when_loaded(self, name: str, then: Callable[[], None]) -> None:
        """Run `then` once the model's load in progress has ended (at once if none is)."""
        task = self._loading.get(name)
        if task is None:
            then()
        else:
            task.add_done_callback(lambda _t: then())

    def detach(self, name: str) -> Callable[[], None]:
        """The memory budget unloads the (idle) model: its loop takes no new sequence from now, and
        the returned call (slow: a worker thread) stops its thread and frees its context and weights.
        A hidden loop of an older file under the name is not this entry's: `detach_hidden` frees it."""
        loop = self._loops.pop(name, None)
        if loop is None:
            return lambda: None
        loop.refuse()
        return loop.close

    def hide(self, name: str) -> DecodeLoop | None:
        """Its file was deleted or replaced: the running streams keep the loop, no new stream
        finds it (a new one loads under the name); `detach_hidden` closes it once they have ended.
        The loop hidden, if one was loaded."""
        loop = self._loops.pop(name, None)
        if loop is not None:
            self._hidden.setdefault(name, []).append(loop)
        return loop

    def detach_hidden(self, name: str, loop: DecodeLoop) -> Callable[[], None]:
        """Like `detach`, for one hidden loop only: a loop loaded under the name since stays."""
        hidden = self._hidden.get(name, [])
        if loop in hidden:
            hidden.remove(loop)
        if not hidden:
            self._hidden.pop(name, None)
        loop.refuse()
        return loop.close

    def _load(self, name: str, path: Path, prepare_for: PrepareFor, before_load: Callable[[], None]) -> DecodeLoop:
        before_load()
        try:
            llm = load_llama(path, n_ctx=TOKENIZER_N_CTX, n_threads=1, mmap=False)
            context = BatchContext(llm, slots=self.slots, n_ctx=self.n_ctx, n_threads=self._share.cores)
        except Exception as exc:
            logger.error("could not load the model file %s: %s", path, exc)
            raise EngineError("could not load its model file (the server log says which and why)") from exc
        return DecodeLoop(context=context, prepare=prepare_for(llm), share=self._share, name=name)

    async def stream(
        self,
        name: str,
        loop: DecodeLoop,
        request: GenerationRequest,
        load_s: float | None,
        on_end: Callable[[], None] = lambda: None,
    ) -> AsyncIterator[Chunk]:
        """The sequence's chunks. `on_end` (the memory budget's leave) runs before the final chunk
        or the error is passed on, so whoever reads the end finds the model idle."""
        events: asyncio.Queue[Event] = asyncio.Queue()
        aio = asyncio.get_running_loop()

        def emit(event: Event) -> None:
            try:
                aio.call_soon_threadsafe(events.put_nowait, event)
            except RuntimeError:  # the event loop is gone (shutdown): nobody is reading
                pass

        seq = Sequence(request=request, emit=emit, load_s=load_s)
        self._arrive(name, loop, seq)
        try:
            while True:
                event = await events.get()
                if isinstance(event, Text):
                    yield Chunk(text=event.text)
                elif isinstance(event, Done):
                    on_end()
                    yield Chunk(usage=event.usage, finish_reason=event.finish_reason)
                    return
                else:
                    on_end()
                    raise event.error
        finally:
            seq.stop.set()
            on_end()

    def _arrive(self, name: str, loop: DecodeLoop, seq: Sequence) -> None:
        """Collect this turn's arrivals for the model; hand them over together at the next turn."""
        arrivals = self._arrivals.get(name)
        if arrivals is None:
            arrivals = self._arrivals[name] = []
            asyncio.get_running_loop().call_soon(self._hand_over, name, loop)
        arrivals.append(seq)

    def _hand_over(self, name: str, loop: DecodeLoop) -> None:
        loop.submit(self._arrivals.pop(name, []))

    def close(self) -> None:
        for loop in [*self._loops.values(), *(loop for hidden in self._hidden.values() for loop in hidden)]:
            loop.close()
        self._loops.clear()
        self._hidden.clear()
