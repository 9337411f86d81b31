"""Online Elo of the common leaderboard views read in one scan (ratings/elo_views.py), ahead of
the first request (``stored.warm``, run by the app at startup): the same ratings as each view's
own read, and no scan of the battles left for a request of a warmed view."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from arena.evaluation.ratings import stored
from arena.evaluation.ratings.elo_views import common_views, elo_of_views
from arena.evaluation.ratings.fit import elo_of_sequence
from arena.evaluation.ratings.standings import ELO_K, derived_standings
from arena.storage import battles as battle_store
from arena.storage.battle_models import StoredBattle
from arena.storage.db import Database
from tests.storage.test_battle_counts import CATEGORIES, JUDGES, seed_history

pytestmark = pytest.mark.timeout(120)

COMMON: list[dict[str, Any]] = [
    {},
    {"source": "human"},
    {"source": "judge"},
    *({"judge_model": judge} for judge in JUDGES),
    *({"category": category} for category in CATEGORIES if category is not None),
]


def test_after_the_warm_up_every_common_view_answers_without_reading_the_battles_again(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_history(database)
    stored.warm(database, threading.Event())

    def no_scan(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the battles were read again")

    monkeypatch.setattr(battle_store, "ordered_battles", no_scan)
    monkeypatch.setattr(battle_store, "ordered_battles_of_kinds", no_scan)
    for unit in ("model", "instance"):
        for options in COMMON:
            got = stored.stored_standings(database, rounds=0, unit=unit, **options).elo
            assert got == derived_standings(database, rounds=0, unit=unit, **options).elo, (unit, options)
            assert got or options  # the seeded history has battles in every view but a category's


def test_a_view_counted_before_a_later_battle_leaves_that_battle_for_its_next_read(database: Database) -> None:
    seed_history(database)
    with database.session() as session:
        times = sorted(session.scalars(select(StoredBattle.counts_at)))
        every = battle_store.pair_totals(session, by_instance=False, include_imported=False)
        views = common_views(by_instance=False, include_imported=False, totals=every)
        default = (False, False, None, None, None, None, None)
        middle: datetime = times[len(times) // 2]
        views[default] = middle  # as if it had been counted when the newest battle was this one
        rated = elo_of_views(session, by_instance=False, include_imported=False, views=views)
        expected = elo_of_sequence(
            battle_store.ordered_battles(session, by_instance=False, include_imported=False, up_to=middle), k=ELO_K
        )
        stop = threading.Event()
        stop.set()
        stopped = elo_of_views(session, by_instance=False, include_imported=False, views=views, stop=stop)
    assert rated is not None and rated[default] == expected
    assert stopped is None
