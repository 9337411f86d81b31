"""Which judges are flagged unreliable, for every leaderboard read: the statistics read every
stored verdict pair, so each process keeps the answer per database until the stored battles
change (``battles.last_change``: every vote and verdict that moves a battle logs one)."""

from __future__ import annotations

import threading
import weakref
from typing import Final

from arena.evaluation.judge.trust import stored_judge_stats
from arena.storage import battles as battle_store
from arena.storage.db import Database

UNRELIABLE_NOTE: Final = (
    "This board counts verdicts of {judges}, flagged unreliable (inconsistent with itself on most pairs when "
    "the answers swap places: see the Judges page or arena judges); {their} verdicts pull ratings toward ties "
    "and make the intervals look narrower than the evidence. To see the board without {them}: source=human "
    "(human votes only, --source human), or a judge_model filter naming a judge you trust."
)

_flags: weakref.WeakKeyDictionary[Database, tuple[int, dict[str, str]]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def unreliable_judges(database: Database) -> dict[str, str]:
    """Every judge model flagged unreliable → its advice; cached until the stored battles change."""
    with database.session() as session:
        seen = battle_store.last_change(session)
    with _lock:
        known = _flags.get(database)
    if known is not None and known[0] == seen:
        return dict(known[1])
    flags = {stats.judge_model: stats.advice or "" for stats in stored_judge_stats(database) if stats.unreliable}
    with _lock:
        _flags[database] = (seen, flags)
    return dict(flags)


def unreliable_note(database: Database, judges_in_view: list[str]) -> tuple[list[str], str | None]:
    """The flagged judges among those whose verdicts a view counts, and the board's warning (None
    when there are none)."""
    if not judges_in_view:
        return [], None
    flagged = unreliable_judges(database)
    named = [judge for judge in judges_in_view if judge in flagged]
    if not named:
        return [], None
    one = len(named) == 1
    return named, UNRELIABLE_NOTE.format(
        judges=("the judge " if one else "the judges ") + ", ".join(named),
        their="its" if one else "their",
        them="it" if one else "them",
    )
