"""A process-wide ledger of the generations running now, each tagged with its round.

Any other generation running at any moment of an answer's run slows it: another round's
(another conversation, a regenerate, a judge, a bench item) and also its own round's siblings,
since the embedded engine batches a comparison's answers together and each then runs at a
fraction of its solo speed (a four-way comparison: about half). Loading a model meanwhile (a
load happens inside its generation) counts too. Such an answer is "contended": its speed is
not a solo speed, and the speed figures leave it out. Two runs overlap exactly when one starts
while the other is running, so each start marks every running generation, and itself if there
is any. The ledger is process-wide, not per engine: the process cannot tell whether two
engines share a machine, so it assumes they do.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_lock = threading.Lock()  # generations start on the event loop; a lock keeps threads safe too
_running: set[Running] = set()


@dataclass(eq=False)
class Running:
    round_key: object  # generations of one round share it (one Comparison, one judge call)
    contended: bool = False


def begin(round_key: object) -> Running:
    """Note a generation of `round_key` starting now; pass the result to `end()`."""
    run = Running(round_key=round_key)
    with _lock:
        for other in _running:  # siblings of one round included: they share a batch
            other.contended = True
            run.contended = True
        _running.add(run)
    return run


def end(run: Running) -> bool:
    """The generation ended: whether any other generation overlapped it."""
    with _lock:
        _running.discard(run)
        return run.contended


@contextmanager
def generating(round_key: object) -> Iterator[Running]:
    """A generation that needs no answer about contention (a judge): it only marks others."""
    run = begin(round_key)
    try:
        yield run
    finally:
        end(run)
