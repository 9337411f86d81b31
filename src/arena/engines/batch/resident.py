"""The batched models under the memory budget (engines/residency.py).

Every stream holds its model in the registry from before its loop is looked up to its end: it
`enter`s (the first one charges the loop's bytes and has idle models unloaded to make room) and
`leave`s once, before its final chunk is passed on. A model whose load is under way stays in use
until the load has ended, even if every stream waiting for it has gone, so a half-loaded model is
never unloaded nor left uncharged. Unloading an idle model stops its loop at once and frees it on
a worker thread (BatchedModels.detach).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from arena.engines.batch.loop import DecodeLoop
from arena.engines.batch.streams import BatchedModels, PrepareFor
from arena.engines.residency import Residency


@dataclass(frozen=True, kw_only=True)
class LoopSource:
    """What loading a model's loop needs, looked up only when it is not loaded."""

    path: Path
    load_bytes: int  # what the budget charges for it (footprint.batched_total)
    prepare_for: PrepareFor


Resolve = Callable[[str], Awaitable[LoopSource]]


class Hold:
    """One stream's use of one model: entered once, left once (later calls do nothing)."""

    def __init__(self, residency: Residency, name: str, ticket: object) -> None:
        self._residency = residency
        self._name = name
        self._ticket = ticket
        self._left = False

    def leave(self, *, holds_nothing: bool = False) -> None:
        if not self._left:
            self._left = True
            self._residency.leave(self._name, ticket=self._ticket, holds_nothing=holds_nothing)


class ResidentLoops:
    def __init__(self, models: BatchedModels, residency: Residency, resolve: Resolve) -> None:
        self._models = models
        self._residency = residency
        self._resolve = resolve
        self._bytes: dict[str, int] = {}

    async def hold(self, name: str) -> tuple[DecodeLoop, float | None, Hold]:
        """The model's loop, held in the budget until the Hold is left; the seconds spent loading it
        (None: it was loaded). Raises ModelTooLarge / MemoryBusy before anything is loaded."""
        source = None
        if self._models.loop(name) is None:  # the common case (loaded) costs no thread hop
            source = await self._resolve(name)
            self._bytes[name] = source.load_bytes
        admission = self._residency.enter(
            name, load_bytes=self._bytes.get(name, 0), detach=partial(self._models.detach, name), label=f"local:{name}"
        )
        hold = Hold(self._residency, name, admission.ticket)
        try:
            loop = self._models.loop(name)
            if loop is not None:
                return loop, None, hold  # resident: nothing was unloaded for it
            source = source or await self._resolve(name)
            loop, load_s = await self._models.ensure_loop(name, source.path, source.prepare_for, admission.free_unloaded)
        except asyncio.CancelledError:
            # The load goes on in its thread: the model stays in use until it has ended.
            self._models.when_loaded(name, partial(self._release_failed, hold, name))
            raise
        except BaseException:
            self._release_failed(hold, name)
            raise
        return loop, load_s, hold

    def _release_failed(self, hold: Hold, name: str) -> None:
        hold.leave(holds_nothing=self._models.loop(name) is None)
