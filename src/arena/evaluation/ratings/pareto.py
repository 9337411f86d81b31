"""Quality against speed and memory: which contestants no other beats on both.

A contestant is Pareto-optimal on an axis when no other has a rating at least as high *and* a
value at least as good (more tokens/s; fewer bytes), better in one of the two. Speeds are only
compared where they were measured alike, so the speed chart is one per host and engine; sizes
(the model file on disk, and its resident memory when loaded) belong to the model wherever it ran.
A contestant whose value is not known is listed as unknown, never placed or put on a frontier.

Pure: ratings, speed figures and model sizes in, ``ParetoChart``s out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

Axis = Literal["tokens_per_sec", "disk_bytes", "resident_bytes"]
MORE_IS_BETTER: Final[dict[str, bool]] = {"tokens_per_sec": True, "disk_bytes": False, "resident_bytes": False}
AXIS_TITLES: Final[dict[str, str]] = {
    "tokens_per_sec": "tokens/s",
    "disk_bytes": "model size on disk",
    "resident_bytes": "resident memory",
}


@dataclass(frozen=True, kw_only=True)
class Speed:
    """One contestant's mean speed on one host and engine, over ``answers`` answers."""

    key: str
    host: str | None
    engine: str | None
    tokens_per_sec: float
    answers: int


@dataclass(frozen=True, kw_only=True)
class ModelSize:
    disk_bytes: int | None = None
    resident_bytes: int | None = None


@dataclass(frozen=True, kw_only=True)
class ParetoPoint:
    key: str
    name: str
    rating: float
    value: float
    optimal: bool
    answers: int | None = None  # speed points: how many answers the mean rests on


@dataclass(frozen=True, kw_only=True)
class ParetoChart:
    axis: Axis
    host: str | None = None  # speed charts only: where the speeds were measured
    engine: str | None = None
    points: list[ParetoPoint] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # names with a rating but no value on this axis

    @property
    def title(self) -> str:
        if self.axis != "tokens_per_sec":
            return f"Rating against {AXIS_TITLES[self.axis]}"
        return f"Rating against tokens/s on {group_text(self.host, self.engine)}"

    @property
    def optimal(self) -> list[str]:
        """The frontier's names, best rated first."""
        return [p.name for p in sorted(self.points, key=lambda p: -p.rating) if p.optimal]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "title": self.title, "more_is_better": MORE_IS_BETTER[self.axis]}


def group_text(host: str | None, engine: str | None) -> str:
    return f"{host or 'unknown host'} · {engine or 'unknown engine'}"


def pareto_optimal(points: Sequence[tuple[float, float]], *, more_is_better: bool) -> list[bool]:
    """For each (rating, value): is no other point at least as good on both and better on one?"""
    sign = 1.0 if more_is_better else -1.0
    flags = []
    for rating, value in points:
        dominated = any(
            r >= rating and sign * v >= sign * value and (r > rating or sign * v > sign * value) for r, v in points
        )
        flags.append(not dominated)
    return flags


def _chart(
    axis: Axis,
    values: Mapping[str, float],
    *,
    ratings: Mapping[str, float],
    names: Mapping[str, str],
    answers: Mapping[str, int] | None = None,
    host: str | None = None,
    engine: str | None = None,
) -> ParetoChart:
    keys = [key for key in ratings if key in values]
    flags = pareto_optimal([(ratings[k], values[k]) for k in keys], more_is_better=MORE_IS_BETTER[axis])
    points = [
        ParetoPoint(
            key=k,
            name=names.get(k, k),
            rating=ratings[k],
            value=values[k],
            optimal=flag,
            answers=(answers or {}).get(k),
        )
        for k, flag in zip(keys, flags, strict=True)
    ]
    unknown = sorted(names.get(k, k) for k in ratings if k not in values)
    return ParetoChart(axis=axis, host=host, engine=engine, points=points, unknown=unknown)


def speed_charts(ratings: Mapping[str, float], names: Mapping[str, str], speeds: Iterable[Speed]) -> list[ParetoChart]:
    """One chart per host and engine; a contestant's several figures there are pooled, weighted by answers."""
    pooled: dict[tuple[str | None, str | None], dict[str, list[Speed]]] = defaultdict(lambda: defaultdict(list))
    for speed in speeds:
        if speed.key in ratings and speed.answers > 0:
            pooled[(speed.host, speed.engine)][speed.key].append(speed)
    charts = []
    for (host, engine), by_key in sorted(pooled.items(), key=lambda kv: group_text(*kv[0])):
        answers = {key: sum(s.answers for s in figures) for key, figures in by_key.items()}
        values = {
            key: sum(s.tokens_per_sec * s.answers for s in figures) / answers[key] for key, figures in by_key.items()
        }
        charts.append(
            _chart("tokens_per_sec", values, ratings=ratings, names=names, answers=answers, host=host, engine=engine)
        )
    return charts


def size_charts(
    ratings: Mapping[str, float], names: Mapping[str, str], sizes: Mapping[str, ModelSize]
) -> list[ParetoChart]:
    """Rating against the model file's size, and against resident memory (``sizes`` by contestant key)."""
    disk = {k: float(s.disk_bytes) for k, s in sizes.items() if s.disk_bytes is not None}
    resident = {k: float(s.resident_bytes) for k, s in sizes.items() if s.resident_bytes is not None}
    return [
        _chart("disk_bytes", disk, ratings=ratings, names=names),
        _chart("resident_bytes", resident, ratings=ratings, names=names),
    ]


def pareto_charts(
    ratings: Mapping[str, float],
    names: Mapping[str, str],
    *,
    speeds: Iterable[Speed],
    sizes: Mapping[str, ModelSize],
) -> list[ParetoChart]:
    return [*speed_charts(ratings, names, speeds), *size_charts(ratings, names, sizes)]
