"""Which file each loaded embedded model was read from, so a deleted or replaced file is never
served from its old mapping under the same id.

Deleting a model (`arena rm`, DELETE /api/models/…) retires it at once; a file found changed
(another inode, size or mtime) when a stream starts or the model list is read is retired too. Retiring goes through the
memory budget (engines/residency.py): an idle model is unloaded now; one generating keeps its
streams and is unloaded when the last ends, while no new stream reaches it (its loop or pool
is made unreachable here, and its budget entry steps aside), so a new request loads the new
file at once, or finds "not in the catalog".
"""

from __future__ import annotations

import asyncio
import os
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from arena.engines.batch.streams import BatchedModels
from arena.engines.residency import Residency

if TYPE_CHECKING:
    from arena.engines.llama_pool import LlamaPool

FileId = tuple[int, int, int, int]  # device, inode, size, mtime (ns)


def file_id(path: Path) -> FileId | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class LoadedFiles:
    def __init__(self, residency: Residency, batched: BatchedModels, pools: dict[str, LlamaPool]) -> None:
        self._residency = residency
        self._batched = batched
        self._pools = pools
        self._files: dict[str, tuple[Path, FileId | None]] = {}

    def loading(self, name: str, path: Path) -> None:
        """`name` is (about to be) loaded from `path`: remember which file that is."""
        self._files[name] = (path, file_id(path))

    async def check(self, name: str) -> bool:
        """Before a stream: retire `name` if its file changed since it was loaded. True if it did."""
        known = self._files.get(name)
        if known is None or file_id(known[0]) == known[1]:
            return False
        await self.retire(name)
        return True

    async def check_all(self) -> None:
        """When the model list is asked for: retire every loaded model whose file changed or went,
        so a file deleted by hand does not hold its memory until the budget needs the room."""
        for name in list(self._files):
            await self.check(name)

    async def retire(self, name: str) -> None:
        """Its file is gone or replaced: unload it now, or when its last stream ends; a new
        request for the name meanwhile loads the file as it is now."""
        self._files.pop(name, None)
        self._pools.pop(name, None)  # the per-object path: a new request builds a pool on the new file
        loop = self._batched.hide(name)  # its streams keep the loop, no new one finds it
        # Generating, the old copy steps aside in the budget and frees only itself at its end.
        detach = partial(self._batched.detach_hidden, name, loop) if loop is not None else None
        free = self._residency.retire(name, detach=detach)
        if free is not None:
            await asyncio.to_thread(free)
