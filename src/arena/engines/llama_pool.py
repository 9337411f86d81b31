"""A pool of `Llama` objects per model: one object per concurrent stream.

Two generations on one `Llama` object crash the process, so every stream borrows an object
of its own and gives it back only when its generation thread has really finished.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from arena.engines.llama_log import route_llama_log
from arena.errors import EngineError

if TYPE_CHECKING:
    from llama_cpp import Llama


logger = logging.getLogger(__name__)
_LOAD_LOCK = threading.Lock()
WAIT_WORTH_COUNTING_S = 0.05


class LlamaPool:
    def __init__(self, *, path: Path, slots: int, n_ctx: int, n_threads: int) -> None:
        self.path = path
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self._slots = asyncio.Semaphore(slots)
        self._idle: list[Llama] = []
        self._lock = threading.Lock()  # `close` may run while a worker thread finishes a load

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
        with self._lock:
            if self._idle:
                return self._idle.pop(), None
        began = time.perf_counter()
        try:
            llm = await asyncio.to_thread(self._load)
        except Exception as exc:
            self._slots.release()
            # The file's name and llama.cpp's reason (which quotes its path) go to the log: on a
            # blind card the name would say which model it is, in a case no label mask matches.
            logger.error("could not load the model file %s: %s", self.path, exc)
            raise EngineError("could not load its model file (the server log says which and why)") from exc
        except BaseException:
            self._slots.release()
            raise
        return llm, round(time.perf_counter() - began, 4)

    def release(self, llm: Llama) -> None:
        with self._lock:
            self._idle.append(llm)
        self._slots.release()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for llm in idle:
            llm.close()

    def _load(self) -> Llama:
        return load_llama(self.path, n_ctx=self.n_ctx, n_threads=self.n_threads)


def load_llama(path: Path, *, n_ctx: int, n_threads: int) -> Llama:
    """A `Llama` object for the file (on a worker thread: it takes a while)."""
    from llama_cpp import Llama

    route_llama_log()  # llama.cpp's log to Python logging at DEBUG, not to stderr
    # verbose=False keeps llama-cpp-python's own prints quiet, but makes it point the process's
    # stdout/stderr at /dev/null while it loads; two loads at once race on that and can leave
    # both pointing there for good.
    with _LOAD_LOCK:
        return Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads, verbose=False)
