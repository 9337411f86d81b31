"""Quality against speed and memory: which contestants no other beats on both.

A contestant is Pareto-optimal on an axis when no other dominates it. Ratings are compared by
their 95% intervals where the board has them: two whose intervals overlap are of equal quality.
Another dominates P when its value is at least as good (more tokens/s; fewer bytes), its rating
is not clearly lower (its interval does not lie wholly below P's), and it is better somewhere:
clearly higher rated (its interval wholly above P's) or strictly better on the value. So a
faster contestant whose rating is not clearly worse dominates; a higher point rating inside
overlapping intervals does not. Without intervals the point ratings are compared. Speeds are only
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
    ci_low: float | None = None  # the rating's 95% interval, where the board has one
    ci_high: float | None = None


@dataclass(frozen=True, kw_only=True)
class ParetoChart:
    axis: Axis
    host: str | None = None  # speed charts only: where the speeds were measured
    engine: str | None = None
    points: list[ParetoPoint] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # names with a rating but no value on this axis
    # Every battle a tie: the ratings cannot tell the contestants apart, so no frontier is named.
    no_signal: bool = False

    @property
    def title(self) -> str:
        if self.axis != "tokens_per_sec":
            return f"Rating against {AXIS_TITLES[self.axis]}"
        return f"Rating against tokens/s on {group_text(self.host, self.engine)}"

    @property
    def optimal(self) -> list[str]:
        """The frontier's names, best rated first (none when the ratings carry no signal)."""
        if self.no_signal:
            return []
        return [p.name for p in sorted(self.points, key=lambda p: -p.rating) if p.optimal]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "title": self.title, "more_is_better": MORE_IS_BETTER[self.axis]}


def group_text(host: str | None, engine: str | None) -> str:
    return f"{host or 'unknown host'} · {engine or 'unknown engine'}"


Interval = tuple[float, float]  # a rating's 95% interval, low to high


def dominates(other: tuple[Interval, float], mine: tuple[Interval, float], *, more_is_better: bool) -> bool:
    """Whether `other` (rating interval, value) dominates `mine`: see the module's note."""
    (low, high), value = other
    (my_low, my_high), my_value = mine
    sign = 1.0 if more_is_better else -1.0
    if sign * value < sign * my_value or high < my_low:  # slower / bigger, or clearly worse rated
        return False
    return low > my_high or sign * value > sign * my_value


def pareto_optimal(
    points: Sequence[tuple[float, float]],
    *,
    more_is_better: bool,
    intervals: Sequence[Interval | None] | None = None,
) -> list[bool]:
    """For each (rating, value): does no other point dominate it? ``intervals`` (one per point,
    None where unknown) compare ratings by their 95% intervals; a point rating stands for itself."""
    spans = [
        (interval if interval is not None else (rating, rating))
        for (rating, _), interval in zip(points, intervals or [None] * len(points), strict=True)
    ]
    ranged = [(span, value) for span, (_, value) in zip(spans, points, strict=True)]
    return [
        not any(j != i and dominates(other, mine, more_is_better=more_is_better) for j, other in enumerate(ranged))
        for i, mine in enumerate(ranged)
    ]


def _chart(
    axis: Axis,
    values: Mapping[str, float],
    *,
    ratings: Mapping[str, float],
    names: Mapping[str, str],
    answers: Mapping[str, int] | None = None,
    host: str | None = None,
    engine: str | None = None,
    intervals: Mapping[str, Interval] | None = None,
    no_signal: bool = False,
) -> ParetoChart:
    keys = [key for key in ratings if key in values]
    flags = pareto_optimal(
        [(ratings[k], values[k]) for k in keys],
        more_is_better=MORE_IS_BETTER[axis],
        intervals=[(intervals or {}).get(k) for k in keys],
    )
    points = [
        ParetoPoint(
            key=k,
            name=names.get(k, k),
            rating=ratings[k],
            value=values[k],
            optimal=flag and not no_signal,
            answers=(answers or {}).get(k),
            ci_low=(intervals or {}).get(k, (None, None))[0],
            ci_high=(intervals or {}).get(k, (None, None))[1],
        )
        for k, flag in zip(keys, flags, strict=True)
    ]
    unknown = sorted(names.get(k, k) for k in ratings if k not in values)
    return ParetoChart(
        axis=axis, host=host, engine=engine, points=points, unknown=unknown, no_signal=no_signal and bool(points)
    )


def speed_charts(
    ratings: Mapping[str, float], names: Mapping[str, str], speeds: Iterable[Speed], **evidence: Any
) -> list[ParetoChart]:
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
            _chart(
                "tokens_per_sec",
                values,
                ratings=ratings,
                names=names,
                answers=answers,
                host=host,
                engine=engine,
                **evidence,
            )
        )
    return charts


def size_charts(
    ratings: Mapping[str, float], names: Mapping[str, str], sizes: Mapping[str, ModelSize], **evidence: Any
) -> list[ParetoChart]:
    """Rating against the model file's size, and against resident memory (``sizes`` by contestant key)."""
    disk = {k: float(s.disk_bytes) for k, s in sizes.items() if s.disk_bytes is not None}
    resident = {k: float(s.resident_bytes) for k, s in sizes.items() if s.resident_bytes is not None}
    return [
        _chart("disk_bytes", disk, ratings=ratings, names=names, **evidence),
        _chart("resident_bytes", resident, ratings=ratings, names=names, **evidence),
    ]


def pareto_charts(
    ratings: Mapping[str, float],
    names: Mapping[str, str],
    *,
    speeds: Iterable[Speed],
    sizes: Mapping[str, ModelSize],
    intervals: Mapping[str, Interval] | None = None,
    no_signal: bool = False,
) -> list[ParetoChart]:
    """``intervals``: each contestant's 95% rating interval (see the module's note); ``no_signal``:
    every battle was a tie, so no chart names a frontier."""
    evidence: dict[str, Any] = {"intervals": intervals, "no_signal": no_signal}
    return [*speed_charts(ratings, names, speeds, **evidence), *size_charts(ratings, names, sizes, **evidence)]
