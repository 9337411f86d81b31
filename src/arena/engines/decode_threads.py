"""Threads that run llama.cpp decodes end when their work does.

llama.cpp, built with OpenMP as llama-cpp-python builds it, gives every thread that runs a
multi-threaded decode a pool of OpenMP workers, kept for as long as that thread lives. libgomp
counts them all, and once it manages more threads than there are CPUs it makes every barrier in
the process wait almost passively: every decode of every model then runs 2-3x slower, for as
long as the idle thread lives (bench/idle_decode_threads.py measures it). So no thread that
decodes outlives its work: a model's decode loop ends its thread when it has nothing to do
(batch/loop.py), and the per-object path runs each generation on a thread of its own (here).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any


class OwnThreads:
    """Each call on a new thread that ends with it; `join` waits for those still running."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._lock = threading.Lock()
        self._live: set[threading.Thread] = set()
        self._count = 0

    def run(self, fn: Callable[..., None], *args: Any) -> asyncio.Future[None]:
        """From the event loop: `fn(*args)` on its own thread; the future settles when it returns."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def settle(error: BaseException | None) -> None:
            if future.done():
                return
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)

        def target() -> None:
            error: BaseException | None = None
            try:
                fn(*args)
            except BaseException as exc:  # handed to whoever awaits the future
                error = exc
            finally:
                with self._lock:
                    self._live.discard(threading.current_thread())
            try:
                loop.call_soon_threadsafe(settle, error)
            except RuntimeError:  # the event loop is closed: nobody awaits it any more
                pass

        with self._lock:
            self._count += 1
            thread = threading.Thread(target=target, name=f"{self._prefix}-{self._count}", daemon=True)
            self._live.add(thread)
        thread.start()
        return future

    def join(self) -> None:
        """Wait for every call still running (shutting down)."""
        with self._lock:
            live = list(self._live)
        for thread in live:
            thread.join()
