"""Which embedded models are loaded, within one memory budget (ARENA_EMBEDDED_MAX_MEMORY).

A model is charged its bytes (engines/footprint.py) from the moment its load is decided. To make
room, idle models are unloaded, least recently used first; a model in use (a stream holds it,
or it is loading) is never unloaded, it becomes a candidate once idle. A model that cannot fit
even with every idle model unloaded is refused at once, and then nothing is unloaded for nothing
and nothing waits.

The registry knows nothing of llama.cpp. Its holders (the per-object pool, llama_pool; the batched
path's streams, batch/resident) call `enter` before they use a model and `leave` after, and give a
`detach` for unloading: it must make the model unreachable at once (cheap: it runs under this
registry's lock) and return what frees its memory, which the caller runs off the event loop before its own load. No lock here
is held across a load or a free, so loading one model never blocks another model's streams.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from arena.errors import MemoryBusy, ModelTooLarge

Free = Callable[[], None]
Detach = Callable[[], Free]
DEFAULT_BUDGET_FRACTION = 0.5  # of the memory the process may use: room for the OS, database, server


@dataclass(kw_only=True)
class _Resident:
    bytes: int
    detach: Detach
    in_use: int = 0
    last_used: float = 0.0
    retiring: bool = False  # its file was deleted or replaced: unloaded once its streams end


@dataclass(frozen=True, kw_only=True)
class ResidentInfo:
    key: str
    bytes: int
    in_use: int
    last_used: float


@dataclass(kw_only=True)
class Admission:
    """What `enter` decided: whether the model was resident already, and the memory of the models
    unloaded to make room, to free (off the event loop) before loading."""

    resident: bool
    unloaded: list[str] = field(default_factory=list)
    _frees: list[Free] = field(default_factory=list)
    # The entry this use counts on: `leave` with it finds the entry even after a retire moved it
    # aside (a new file loading under the same name meanwhile has an entry of its own).
    ticket: object = None

    def free_unloaded(self) -> None:
        """Free the unloaded models' memory (slow: call it on a worker thread). Once only."""
        frees, self._frees = self._frees, []
        for free in frees:
            free()


class Residency:
    def __init__(self, *, budget_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget_bytes = budget_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._models: dict[str, _Resident] = {}
        self._retired = 0  # entries moved aside by `retire`, for their keys of their own

    def enter(self, key: str, *, load_bytes: int, detach: Detach, label: str | None = None) -> Admission:
        """The caller is about to use `key`: it is in use from now until `leave`. If it is not
        resident, `load_bytes` are charged for it, after unloading idle models if needed (LRU).
        Raises ModelTooLarge (more than the whole budget) or MemoryBusy (models in use hold the rest)."""
        name = label or key
        with self._lock:
            now = self._clock()
            resident = self._models.get(key)
            if resident is not None:
                resident.in_use += 1
                resident.last_used = now
                return Admission(resident=True, ticket=resident)
            if load_bytes > self.budget_bytes:
                raise ModelTooLarge(
                    f"{name} is refused by the embedded engine's memory budget: it needs about "
                    f"{format_bytes(load_bytes)}, more than all of ARENA_EMBEDDED_MAX_MEMORY "
                    f"({format_bytes(self.budget_bytes)}): raise the budget, lower ARENA_EMBEDDED_N_CTX or "
                    "ARENA_EMBEDDED_SLOTS, or choose a smaller model or quantization"
                )
            victims = self._victims(load_bytes)
            if victims is None:
                busy = sum(r.bytes for r in self._models.values() if r.in_use)
                raise MemoryBusy(
                    f"the embedded engine's memory is busy: {name} needs about {format_bytes(load_bytes)}, and "
                    f"models generating right now hold {format_bytes(busy)} of its {format_bytes(self.budget_bytes)} "
                    "(ARENA_EMBEDDED_MAX_MEMORY): try again when they have finished"
                )
            frees = [self._models.pop(victim).detach() for victim in victims]
            entry = self._models[key] = _Resident(bytes=load_bytes, detach=detach, in_use=1, last_used=now)
            return Admission(resident=False, unloaded=victims, _frees=frees, ticket=entry)

    def leave(self, key: str, *, ticket: object = None, holds_nothing: bool = False) -> None:
        """One use of `key` ended (`ticket`: its Admission's, which finds the entry even once a
        retire has moved it aside). `holds_nothing`: its load failed and nothing of it is in
        memory, so its charge goes once no one else uses it."""
        with self._lock:
            found = self._find(key, ticket)
            if found is None:
                return
            key, resident = found
            resident.in_use = max(0, resident.in_use - 1)
            resident.last_used = self._clock()
            if holds_nothing and resident.in_use == 0:
                del self._models[key]
                return
            if not (resident.retiring and resident.in_use == 0):
                return
            free = self._models.pop(key).detach()
        # The last stream on a deleted file ended: free it off the caller's (event-loop) thread.
        threading.Thread(target=free, name=f"unload-{key}", daemon=True).start()

    def retire(self, key: str, *, detach: Detach | None = None) -> Free | None:
        """`key`'s file was deleted or replaced: unload it now when idle (returns what frees its
        memory). In use, it steps aside under a key of its own, still charged, and unloads when its
        last use leaves (None); the name is free at once, so the next request loads the new file.
        `detach`, if given, replaces the entry's own: what frees only this old copy."""
        with self._lock:
            resident = self._models.get(key)
            if resident is None:
                return None
            resident.detach = detach or resident.detach
            if resident.in_use == 0:
                return self._models.pop(key).detach()
            del self._models[key]
            self._retired += 1
            resident.retiring = True
            self._models[f"{key} (retired {self._retired})"] = resident
            return None

    def _find(self, key: str, ticket: object) -> tuple[str, _Resident] | None:
        if ticket is None:
            resident = self._models.get(key)
            return (key, resident) if resident is not None else None
        return next(((k, r) for k, r in self._models.items() if r is ticket), None)

    def unload_idle(self) -> list[Free]:
        """Unload every idle model (shutdown, tests); returns what frees their memory."""
        with self._lock:
            idle = [key for key, r in self._models.items() if r.in_use == 0]
            return [self._models.pop(key).detach() for key in idle]

    def _victims(self, needed: int) -> list[str] | None:
        """Idle models to unload, least recently used first, until `needed` bytes are free; None
        when even all of them would not do (then none is unloaded)."""
        free = self.budget_bytes - sum(r.bytes for r in self._models.values())
        victims: list[str] = []
        for key, resident in sorted(self._models.items(), key=lambda item: item[1].last_used):
            if free >= needed:
                break
            if resident.in_use == 0:
                victims.append(key)
                free += resident.bytes
        return victims if free >= needed else None

    def snapshot(self) -> dict[str, ResidentInfo]:
        with self._lock:
            return {
                key: ResidentInfo(key=key, bytes=r.bytes, in_use=r.in_use, last_used=r.last_used)
                for key, r in self._models.items()
            }

    def used_bytes(self) -> int:
        with self._lock:
            return sum(r.bytes for r in self._models.values())


def format_bytes(count: int) -> str:
    """In the units the web UI shows sizes in (lib/format.js's formatBytes: 1 MB = 10^6 bytes)."""
    value, unit = float(count), "B"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            break
        value /= 1000
    return f"{round(value)} {unit}" if value >= 100 or unit == "B" else f"{value:.1f} {unit}"


def available_memory_bytes() -> int | None:
    """The memory this process may use: physical RAM, or its cgroup's limit when lower (a container)."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
    for limit_file in (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory/memory.limit_in_bytes")):
        try:
            text = limit_file.read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            physical = min(physical, int(text))  # "max" (v2) or a huge number (v1): no limit
    return physical


def default_budget_bytes() -> int:
    """Half the memory the process may use (or 4 GiB when it cannot be read)."""
    available = available_memory_bytes()
    return int(available * DEFAULT_BUDGET_FRACTION) if available else 4 * 2**30
