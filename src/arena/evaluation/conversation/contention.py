"""A process-wide ledger of the generations running now, each tagged with its round.

Answers generated together share the engine's threads evenly only among themselves: a
generation of another round (another conversation, a regenerate, a judge, a bench item)
running at any moment of an answer's run, or loading a model meanwhile (a load happens inside
its generation), slows that answer alone. Such an answer is "contended": its speed is not
compared. Two runs overlap exactly when one starts while the other is running, so each start
marks every running generation of another round, and itself if there is any.
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
        for other in _running:
            if other.round_key is not round_key:
                other.contended = True
                run.contended = True
        _running.add(run)
    return run


def end(run: Running) -> bool:
    """The generation ended: whether another round's generation overlapped it."""
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
