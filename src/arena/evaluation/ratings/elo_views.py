"""Online Elo of every common leaderboard view in one ordered read of the stored battles.

Online Elo needs each battle in order, so a view read for the first time costs a scan of its
battles (seconds at a million). The common views (all battles; one source; one judge; one
category; no time window) are subsequences of the same ordered scan, so one read rates them
all at once: the first such request, or the warm-up at startup (``warm``), pays for every one.
The arithmetic is ``fit.elo_of_sequence``'s, step for step, so the ratings are the same.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from functools import partial
from itertools import chain
from typing import Final

from sqlalchemy.orm import Session

from arena.evaluation.ratings.standings import ELO_K
from arena.storage import battles as battle_store
from arena.storage.battles import PairTotal

logger = logging.getLogger(__name__)

# (by_instance, include_imported, source, judge_model, category, since, until): stored.py's cache key
View = tuple[bool, bool, str | None, str | None, str | None, datetime | None, datetime | None]

_INITIAL: Final = 1000.0
_SCORES: Final = {"a": 1.0, "b": 0.0}


def is_common(view: View) -> bool:
    """Whether ``elo_of_views`` rates this view: no time window, at most one filter."""
    _, _, source, judge_model, category, since, until = view
    return since is None and until is None and sum(x is not None for x in (source, judge_model, category)) <= 1


def common_views(*, by_instance: bool, include_imported: bool, totals: list[PairTotal]) -> dict[View, datetime]:
    """Each common view with battles, and its newest battle's time (``totals``: every pair total)."""
    latest: dict[View, datetime] = {}

    def note(view: View, at: datetime) -> None:
        if view not in latest or latest[view] < at:
            latest[view] = at

    for total in totals:
        note((by_instance, include_imported, None, None, None, None, None), total.latest)
        note((by_instance, include_imported, total.source, None, None, None, None), total.latest)
        if total.judge_model is not None:
            note((by_instance, include_imported, None, total.judge_model, None, None, None), total.latest)
        if total.category is not None:
            note((by_instance, include_imported, None, None, total.category, None, None), total.latest)
    return latest


def elo_of_views(
    session: Session,
    *,
    by_instance: bool,
    include_imported: bool,
    views: dict[View, datetime],
    stop: threading.Event | None = None,
) -> dict[View, dict[str, float]] | None:
    """Online Elo of each view (from ``common_views``) up to its newest battle, in one scan;
    None when ``stop`` was set before the end."""
    if not views:
        return {}
    ratings: dict[View, dict[str, float]] = {view: {} for view in views}
    # Up to the oldest view's newest battle every battle counts in each of its views; only later
    # ones (a few, usually) need their time read, to leave out what came in after a view was counted.
    cut, top = min(views.values()), max(views.values())
    scan = partial(
        battle_store.ordered_battles_of_kinds, session, by_instance=by_instance, include_imported=include_imported
    )
    rows = chain(scan(after=None, up_to=cut, timed=False), scan(after=cut, up_to=top, timed=True))
    # per kind of battle (source, judge, category): the tables it counts in, with their newest time
    targets: dict[tuple[str, str | None, str | None], list[tuple[dict[str, float], datetime]]] = {}
    for seen, (side_a, side_b, outcome, source, judge_model, category, at) in enumerate(rows):
        if stop is not None and seen % 50_000 == 0 and stop.is_set():
            return None
        found = targets.get((source, judge_model, category))
        if found is None:
            found = targets[(source, judge_model, category)] = [
                (ratings[view], views[view])
                for view in _views_of(by_instance, include_imported, source, judge_model, category)
                if view in views
            ]
        score = _SCORES.get(outcome, 0.5)
        for table, newest in found:
            if at is not None and at > newest:  # came in after the view was counted: left for the next read
                continue
            rating_a = table.setdefault(side_a, _INITIAL)
            rating_b = table.setdefault(side_b, _INITIAL)
            expected_a = 1.0 / (1.0 + 10.0 ** ((rating_b - rating_a) / 400.0))
            change = ELO_K * (score - expected_a)
            table[side_a] = rating_a + change
            table[side_b] = rating_b - change
    return {view: dict(sorted(table.items())) for view, table in ratings.items()}


def _views_of(
    by_instance: bool, include_imported: bool, source: str, judge_model: str | None, category: str | None
) -> list[View]:
    """The common views a battle of this kind belongs to."""
    views: list[View] = [
        (by_instance, include_imported, None, None, None, None, None),
        (by_instance, include_imported, source, None, None, None, None),
    ]
    if judge_model is not None:
        views.append((by_instance, include_imported, None, judge_model, None, None, None))
    if category is not None:
        views.append((by_instance, include_imported, None, None, category, None, None))
    return views
