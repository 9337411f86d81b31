"""The quality-against-speed (or size) scatter of a report, as SVG written by hand like ``charts``:
a dot per contestant, the Pareto-optimal ones filled and joined by the frontier's steps, the
others hollow; the contestants without a value on the axis are named under it as unknown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from arena.evaluation.bench.report.charts import ACCENT, GRID, INK, WIDTH, _open, _short, _text, nice_ticks

HEIGHT: Final = 340
LEFT: Final = 60
RIGHT: Final = WIDTH - 40
TOP: Final = 20
BOTTOM: Final = HEIGHT - 60
HOLLOW: Final = "#888"
LABEL_FLIP: Final = WIDTH * 0.65  # a name right of this goes to its dot's left, so it is not cut off


def value_unit(axis: str, values: list[float]) -> tuple[float, str]:
    """(divisor, unit) for the x axis: tokens/s as they are, bytes in MB or GB."""
    if axis == "tokens_per_sec":
        return 1.0, "tokens/s"
    return (1e9, "GB") if max(values, default=0.0) >= 1e9 else (1e6, "MB")


def pareto_svg(chart: Mapping[str, Any]) -> str:
    """``chart``: a ``ParetoChart.to_dict()``."""
    points = chart["points"]
    title = str(chart["title"])
    unknown: list[str] = list(chart["unknown"])
    parts = [_open(WIDTH, HEIGHT, title, f"pareto pareto-{chart['axis']}")]
    divisor, unit = value_unit(chart["axis"], [float(p["value"]) for p in points])
    xs = [float(p["value"]) / divisor for p in points]
    ys = [float(p["rating"]) for p in points]
    if not points:
        parts.append(
            f'<text x="{WIDTH / 2:.0f}" y="{HEIGHT / 2:.0f}" text-anchor="middle" fill="{INK}">'
            f"{_text(unit)}: unknown for every rated contestant</text>"
        )
    else:
        x_ticks = nice_ticks(0.0, max(xs) * 1.05 if max(xs) > 0 else 1.0)
        y_pad = max(10.0, (max(ys) - min(ys)) * 0.1)
        y_ticks = nice_ticks(min(ys) - y_pad, max(ys) + y_pad)

        def x(value: float) -> float:
            return LEFT + (value - x_ticks[0]) / (x_ticks[-1] - x_ticks[0]) * (RIGHT - LEFT)

        def y(value: float) -> float:
            return BOTTOM - (value - y_ticks[0]) / (y_ticks[-1] - y_ticks[0]) * (BOTTOM - TOP)

        for tick in x_ticks:
            parts.append(f'<line x1="{x(tick):.1f}" y1="{TOP}" x2="{x(tick):.1f}" y2="{BOTTOM}" stroke="{GRID}"/>')
            parts.append(f'<text x="{x(tick):.1f}" y="{BOTTOM + 14}" text-anchor="middle" fill="{INK}">{tick:g}</text>')
        for tick in y_ticks:
            parts.append(f'<line x1="{LEFT}" y1="{y(tick):.1f}" x2="{RIGHT}" y2="{y(tick):.1f}" stroke="{GRID}"/>')
            parts.append(f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" fill="{INK}">{tick:g}</text>')
        better = "more is better" if chart["more_is_better"] else "less is better"
        parts.append(
            f'<text x="{(LEFT + RIGHT) / 2:.0f}" y="{BOTTOM + 32}" text-anchor="middle" fill="{INK}">'
            f"{_text(unit)} ({better})</text>"
            f'<text x="14" y="{(TOP + BOTTOM) / 2:.0f}" text-anchor="middle" fill="{INK}" '
            f'transform="rotate(-90 14 {(TOP + BOTTOM) / 2:.0f})">rating</text>'
        )
        frontier = sorted((xv, yv) for xv, yv, p in zip(xs, ys, points, strict=True) if p["optimal"])
        if len(frontier) > 1:
            path = " ".join(f"{x(xv):.1f},{y(yv):.1f}" for xv, yv in frontier)
            parts.append(f'<polyline class="frontier" points="{path}" fill="none" stroke="{ACCENT}" stroke-width="2"/>')
        for xv, yv, point in zip(xs, ys, points, strict=True):
            optimal = bool(point["optimal"])
            tip = f"{point['name']}: rating {yv:.0f}, {xv:.3g} {unit}" + (" (Pareto-optimal)" if optimal else "")
            fill = ACCENT if optimal else "white"
            parts.append(
                f'<circle class="{"optimal" if optimal else "dominated"}" cx="{x(xv):.1f}" cy="{y(yv):.1f}" r="5" '
                f'fill="{fill}" stroke="{ACCENT if optimal else HOLLOW}" stroke-width="2"><title>{_text(tip)}</title></circle>'
                f'<text x="{x(xv) + (-8 if x(xv) > LABEL_FLIP else 8):.1f}" y="{y(yv) - 6:.1f}" '
                f'text-anchor="{"end" if x(xv) > LABEL_FLIP else "start"}" fill="{INK}">'
                f"{_text(_short(str(point['name'])))}</text>"
            )
    if unknown:
        parts.append(
            f'<text class="unknown" x="{LEFT}" y="{HEIGHT - 8}" fill="{INK}">'
            f"{_text(unit)} unknown: {_text(', '.join(unknown))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
