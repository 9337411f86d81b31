"""Generation speed as stored, grouped where it was measured: per instance, host and engine, the
mean tokens/s and how many answers it rests on (the leaderboard's quality-versus-speed chart).

Two sources: benchmark items (their host and engine are recorded), and interactive answers (the
host is the server process's, while its lease row lasts; the engine is the model's kind). An
answer that ran beside another round (``contended``) is left out: its speed is not comparable.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from arena.storage.bench_models import BenchItem
from arena.storage.models import Instance, Response
from arena.storage.process_models import ServerProcess


@dataclass(frozen=True, kw_only=True)
class SpeedFigure:
    instance_id: str
    model: str
    host: str | None
    engine: str | None  # bench items: kind + endpoint ("ollama:http://gpu:11434"); answers: the kind
    tokens_per_sec: float  # the mean over the answers
    answers: int


def speed_figures(session: Session) -> list[SpeedFigure]:
    bench = session.execute(
        select(
            BenchItem.instance_id,
            BenchItem.model,
            BenchItem.host,
            BenchItem.engine,
            func.avg(BenchItem.tokens_per_sec),
            func.count(),
        )
        .where(BenchItem.status == "done", BenchItem.tokens_per_sec.is_not(None))
        .group_by(BenchItem.instance_id, BenchItem.model, BenchItem.host, BenchItem.engine)
    ).all()
    answers = session.execute(
        select(
            Response.instance_id, Instance.model, ServerProcess.host, func.avg(Response.tokens_per_sec), func.count()
        )
        .join(Instance, Instance.id == Response.instance_id)
        .outerjoin(ServerProcess, ServerProcess.id == Response.owner_process)
        .where(
            Response.status == "ok",
            Response.tokens_per_sec.is_not(None),
            or_(Response.contended.is_(None), Response.contended.is_(False)),
        )
        .group_by(Response.instance_id, Instance.model, ServerProcess.host)
    ).all()
    figures = [
        SpeedFigure(instance_id=i, model=m, host=h, engine=e, tokens_per_sec=float(tps), answers=n)
        for i, m, h, e, tps, n in bench
    ]
    figures += [
        SpeedFigure(instance_id=i, model=m, host=h, engine=m.partition(":")[0], tokens_per_sec=float(tps), answers=n)
        for i, m, h, tps, n in answers
    ]
    return figures
