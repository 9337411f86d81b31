"""promptfoo pass rates per leaderboard contestant: the share of tests passed over the benchmark
runs with tests that the board's filters include.

An item counts once its generation finished: its test passed or not, and a failed generation is a
test not passed (as the run's report counts it); pending items count nowhere. The board's filters
apply as they do to battles: ``source="human"`` includes no run (tests are graded by machine),
``judge_model`` the runs that judge with it, ``category`` the items of that category,
``since``/``until`` the items finished in ``since <= t < until``. None when no included run has
tests, so the board shows no column for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select

from arena.storage.bench_models import BenchItem, BenchRun
from arena.storage.db import Database

Unit = Literal["model", "instance"]


@dataclass(frozen=True, kw_only=True)
class PassRate:
    passed: int
    total: int

    @property
    def rate(self) -> float:
        return round(self.passed / self.total, 4) if self.total else 0.0


def contestant_pass_rates(
    database: Database,
    *,
    unit: Unit = "model",
    source: str | None = None,
    judge_model: str | None = None,
    category: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, PassRate] | None:
    """Contestant (a model id, or an instance id by instance) → its tests passed of those graded."""
    if source == "human":
        return None
    counts: dict[str, list[int]] = {}
    query = (
        select(BenchItem.instance_id, BenchItem.model, BenchItem.status, BenchItem.category, BenchItem.finished_at)
        .add_columns(BenchItem.grade, BenchRun.judge)
        .join(BenchRun, BenchRun.id == BenchItem.run_id)
        .where(BenchItem.checks.is_not(None), BenchItem.status.in_(("done", "error")))
    )
    with database.session() as session:
        rows = session.execute(query).all()
    for instance_id, model, status, item_category, finished_at, grade, judge in rows:
        if judge_model is not None and (judge or {}).get("model") != judge_model:
            continue
        if category is not None and item_category != category:
            continue
        if not _within(finished_at, since, until):
            continue
        cell = counts.setdefault(instance_id if unit == "instance" else model, [0, 0])
        cell[0] += 1 if status == "done" and grade and grade.get("pass") else 0
        cell[1] += 1
    if not counts:
        return None
    return {key: PassRate(passed=passed, total=total) for key, (passed, total) in counts.items()}


def _within(moment: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    if since is None and until is None:
        return True
    if moment is None:
        return False
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return (since is None or moment >= _utc(since)) and (until is None or moment < _utc(until))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
