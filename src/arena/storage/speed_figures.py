"""Generation speed as stored, grouped where it was measured: per instance, host and engine, the
mean tokens/s and how many answers it rests on (the leaderboard's quality-versus-speed chart).

Two sources: benchmark items and interactive answers, each with the host it was generated on
(an answer keeps its process's host, 0025; older answers the host of a lease row still there).
The engine is the model's kind ("local", "ollama"…) for both, so one machine and engine is one
chart whichever way its answers came. Only answers generated alone count: one that ran beside
another round's generation (``contended``) is left out, and so is every answer of a round with
more than one answer (a comparison's answers run together: the embedded engine batches them,
each at a fraction of its solo speed, so they are fair against each other, which is what the
card's crown compares, but not solo speeds); so are the items of a benchmark run with a
concurrency above 1. The leaderboard's filters apply: a
date range keeps what finished inside it; a category keeps benchmark items of that category and
answers of turns voted or judged in it (categories are stored encrypted: filtered here, not in SQL).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from arena.storage.bench_models import BenchItem, BenchRun
from arena.storage.models import Instance, Judgment, Response, Vote
from arena.storage.process_models import ServerProcess


@dataclass(frozen=True, kw_only=True)
class SpeedFigure:
    instance_id: str
    model: str
    host: str | None
    engine: str | None  # the model's kind: "local", "ollama", "openai"…
    tokens_per_sec: float  # the mean over the answers
    answers: int


def engine_label(model: str) -> str:
    """One label per engine for benchmark items and answers alike (the model id's kind)."""
    return model.partition(":")[0]


def speed_figures(
    session: Session, *, category: str | None = None, since: datetime | None = None, until: datetime | None = None
) -> list[SpeedFigure]:
    bench = (
        select(BenchItem.instance_id, BenchItem.model, BenchItem.host, BenchItem.tokens_per_sec, BenchItem.category)
        .join(BenchRun, BenchRun.id == BenchItem.run_id)
        # A run generating several items at once measured none of them alone.
        .where(BenchItem.status == "done", BenchItem.tokens_per_sec.is_not(None), BenchRun.concurrency <= 1)
        .where(*_between(BenchItem.finished_at, since, until))
    )
    host = func.coalesce(Response.host, ServerProcess.host)
    sibling = aliased(Response)
    answers = (
        select(Response.instance_id, Instance.model, host, Response.tokens_per_sec, Response.turn_id)
        .join(Instance, Instance.id == Response.instance_id)
        .outerjoin(ServerProcess, ServerProcess.id == Response.owner_process)
        .where(
            Response.status == "ok",
            Response.tokens_per_sec.is_not(None),
            or_(Response.contended.is_(None), Response.contended.is_(False)),
            ~exists().where(  # a sibling: another answer of the same round, generated together
                sibling.turn_id == Response.turn_id,
                sibling.generation_round == Response.generation_round,
                sibling.id != Response.id,
            ),
            *_between(Response.finished_at, since, until),
        )
    )
    if category is None:
        rows = [*_pooled(session, bench), *_pooled(session, answers)]
    else:
        turns = _turns_in(session, category)
        rows = [(*r[:4], 1) for r in session.execute(bench) if r[4] == category]
        rows += [(*r[:4], 1) for r in session.execute(answers) if r[4] in turns]
    return _figures(rows)


def _between(column: Any, since: datetime | None, until: datetime | None) -> list[Any]:
    return [*([column >= since] if since else []), *([column <= until] if until else [])]


def _pooled(session: Session, rows: Select[Any]) -> list[tuple[Any, ...]]:
    """(instance, model, host, mean, count) per group, counted in SQL (no category to decrypt)."""
    columns = list(rows.subquery().c)
    keys = columns[:3]
    return [tuple(r) for r in session.execute(select(*keys, func.avg(columns[3]), func.count()).group_by(*keys))]


def _turns_in(session: Session, category: str) -> set[int]:
    voted = session.execute(select(Vote.turn_id, Vote.category).where(Vote.category.is_not(None)))
    judged = session.execute(
        select(Judgment.turn_id, Judgment.category).where(Judgment.category.is_not(None), Judgment.turn_id.is_not(None))
    )
    return {turn for turn, found in [*voted, *judged] if found == category}


def _figures(rows: list[tuple[Any, ...]]) -> list[SpeedFigure]:
    """(instance, model, host, mean tokens/s, answers) rows pooled per instance, host and engine."""
    totals: dict[tuple[str, str, str | None], list[float]] = defaultdict(lambda: [0.0, 0])
    for instance_id, model, host, mean, count in rows:
        total = totals[(instance_id, model, host)]
        total[0] += float(mean) * count
        total[1] += count
    return [
        SpeedFigure(
            instance_id=instance_id,
            model=model,
            host=host,
            engine=engine_label(model),
            tokens_per_sec=total / count,
            answers=int(count),
        )
        for (instance_id, model, host), (total, count) in totals.items()
    ]
