"""A pool of `Llama` objects per model: one object per concurrent stream.

Two generations on one `Llama` object crash the process, so every stream borrows an object
of its own and gives it back only when its generation thread has really finished. The pool is
one resident model of the memory budget (engines/residency.py): in use from `take` to `release`,
charged for all its slots at its first load, unloaded (its idle objects closed) when evicted.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from arena.engines.llama_log import route_llama_log
from arena.engines.residency import Admission, Free, Residency
from arena.errors import EngineError

if TYPE_CHECKING:
    from llama_cpp import Llama


logger = logging.getLogger(__name__)
_LOAD_LOCK = threading.Lock()
WAIT_WORTH_COUNTING_S = 0.05


class LlamaPool:
    def __init__(
        self,
        *,
        path: Path,
        slots: int,
        n_ctx: int,
        n_threads: int,
        residency: Residency,
        key: str,
        load_bytes: int,
    ) -> None:
        self.path = path
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.key = key  # the model's id in the residency registry
        self.load_bytes = load_bytes  # what the registry charges for it: every slot's context
        self._residency = residency
        self._slots = asyncio.Semaphore(slots)
        self._idle: list[Llama] = []
        self._loaded = 0  # objects alive, idle or lent
        self._lock = threading.Lock()  # `close` may run while a worker thread finishes a load
        self._ticket: object = None  # the registry entry its objects count on (Admission.ticket)

    async def wait_for_slot(self) -> float:
        """Wait for a free slot; the seconds waited (0.0: one was free at once)."""
        if not self._slots.locked():
            await self._slots.acquire()
            return 0.0
        began = time.perf_counter()
        await self._slots.acquire()
        waited = time.perf_counter() - began
        # A slot handed back as we asked (the previous turn's thread ending a moment after its
        # last token) is not a wait that puts this answer after the others.
        return round(waited, 4) if waited >= WAIT_WORTH_COUNTING_S else 0.0

    async def take(self) -> tuple[Llama, float | None]:
        """With a slot held: reuse an idle object, or load one in a thread. The load's seconds,
        or None when an idle object was reused. On failure the slot is given back."""
        try:
            admission = self._residency.enter(
                self.key, load_bytes=self.load_bytes, detach=self._detach, label=f"local:{self.key}"
            )
        except BaseException:
            self._slots.release()
            raise
        self._ticket = admission.ticket  # one entry for all its uses while it is loaded
        with self._lock:
            if self._idle:
                return self._idle.pop(), None
        began = time.perf_counter()
        try:
            llm = await asyncio.to_thread(self._load, admission)
            with self._lock:  # counted once ours: a load whose caller was cancelled is left to the GC
                self._loaded += 1
        except Exception as exc:
            self._give_back_failed()
            # The file's name and llama.cpp's reason (which quotes its path) go to the log: on a
            # blind card the name would say which model it is, in a case no label mask matches.
            logger.error("could not load the model file %s: %s", self.path, exc)
            raise EngineError("could not load its model file (the server log says which and why)") from exc
        except BaseException:
            self._give_back_failed()
            raise
        return llm, round(time.perf_counter() - began, 4)

    def release(self, llm: Llama) -> None:
        with self._lock:
            self._idle.append(llm)
        self._slots.release()
        self._residency.leave(self.key, ticket=self._ticket)

    def close(self) -> None:
        self._detach()()

    def _give_back_failed(self) -> None:
        self._slots.release()
        with self._lock:
            holds_nothing = self._loaded == 0
        self._residency.leave(self.key, ticket=self._ticket, holds_nothing=holds_nothing)

    def _detach(self) -> Free:
        """Unloading (the registry's call, with every object idle): none can be taken from now;
        closing them is the slow part, left to the caller's worker thread."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._loaded -= len(idle)

        def free() -> None:
            for llm in idle:
                llm.close()

        return free

    def _load(self, admission: Admission) -> Llama:
        admission.free_unloaded()  # the models unloaded to make room give their memory back first
        return load_llama(self.path, n_ctx=self.n_ctx, n_threads=self.n_threads)


def load_llama(path: Path, *, n_ctx: int, n_threads: int, mmap: bool = True) -> Llama:
    """A `Llama` object for the file (on a worker thread: it takes a while).

    `mmap=False` reads the weights into memory of their own: a file then overwritten in place
    (`cp` over it, a download written straight into the models folder) cannot pull the pages
    from under llama.cpp, which a mapping answers with SIGBUS, killing the process. The batched
    path loads each model once and reads it so; the per-object path maps the file, so its
    objects share one copy of the weights."""
    from llama_cpp import Llama

    route_llama_log()  # llama.cpp's log to Python logging at DEBUG, not to stderr
    # verbose=False keeps llama-cpp-python's own prints quiet, but makes it point the process's
    # stdout/stderr at /dev/null while it loads; two loads at once race on that and can leave
    # both pointing there for good.
    with _LOAD_LOCK:
        return Llama(
            model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads, use_mmap=mmap, verbose=False
        )
