"""The server reads the leaderboard's common views and the judges' numbers ahead, in the
background from startup: it answers (health, pages) before that read ends, and the first
leaderboard request afterwards finds the ratings read."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from arena.evaluation.ratings import elo_views, stored
from arena.storage import battles as battle_store
from arena.storage.db import Database
from tests.storage.test_battle_counts import seed_history
from tests.support.faults import serve_arena
from tests.support.server import make_settings

pytestmark = pytest.mark.timeout(60)


def test_startup_does_not_wait_for_the_warm_up_and_the_first_request_finds_it_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path)
    seeded = Database.for_settings(settings)
    seeded.migrate()
    seed_history(seeded)
    seeded.dispose()
    release = threading.Event()
    scan = battle_store.ordered_battles_of_kinds

    def held(*args: Any, **kwargs: Any) -> Any:
        assert release.wait(30)  # the warm-up's scan waits until the server has answered
        return scan(*args, **kwargs)

    monkeypatch.setattr(elo_views.battle_store, "ordered_battles_of_kinds", held)
    with serve_arena(settings) as arena, arena.client() as client:
        assert client.get("/api/health").status_code == 200
        release.set()
        deadline = time.monotonic() + 30
        while (False, False, None, None, None, None, None) not in stored._elo_reads.get(arena.database, {}):
            assert time.monotonic() < deadline, "the warm-up never finished"
            time.sleep(0.05)

        def no_scan(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the battles were read again")

        monkeypatch.setattr(elo_views.battle_store, "ordered_battles_of_kinds", no_scan)
        monkeypatch.setattr(stored.battle_store, "ordered_battles", no_scan)
        board = client.get("/api/leaderboard", params={"rounds": 0})
        judges = client.get("/api/judges")
    assert board.status_code == 200 and board.json()["rows"]
    assert judges.status_code == 200
