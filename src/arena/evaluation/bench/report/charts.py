"""Small SVG charts for benchmark reports, written by hand: no plotting library, no fonts or
scripts fetched from anywhere, so a report opens offline and its images embed inline.

Every chart is a ``<svg role="img">`` with a ``<title>``; every label is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Final

WIDTH: Final = 760
ROW_HEIGHT: Final = 26
FONT: Final = 'font-family="system-ui, sans-serif" font-size="12"'
MAX_LABEL_CHARS: Final = 44
CHAR_WIDTH: Final = 6.6  # about, for a 12 px system-ui label
INK: Final = "#222"
GRID: Final = "#ddd"
ACCENT: Final = "#3b6fb6"
EMPTY_CELL: Final = "#eee"


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _short(label: str) -> str:
    """A long label loses its middle, not its end: instances of one model differ at the end."""
    if len(label) <= MAX_LABEL_CHARS:
        return label
    head = (MAX_LABEL_CHARS - 1) // 2
    return label[:head] + "…" + label[-(MAX_LABEL_CHARS - 1 - head) :]


def distinct_labels(labels: Sequence[str]) -> list[str]:
    """Shortened labels that still tell every one apart: numbered where shortening made two alike."""
    shorts = [_short(label) for label in labels]
    if len(set(shorts)) == len(shorts):
        return shorts
    return [f"{number}. {short}" for number, short in enumerate(shorts, start=1)]


def _label_width(texts: list[str]) -> int:
    longest = max((len(text) for text in texts), default=0)
    return min(360, 16 + 7 * longest)


def _open(width: int, height: int, title: str, css_class: str) -> str:
    return (
        f'<svg class="chart {css_class}" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f"{FONT}><title>{_text(title)}</title>"
    )


def _line(x1: float, y1: float, x2: float, y2: float, *, width: int, css_class: str = "") -> str:
    css = f' class="{css_class}"' if css_class else ""
    return (
        f'<line{css} x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{ACCENT}" stroke-width="{width}"/>'
    )


def nice_ticks(low: float, high: float, *, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2 or 5 times a power of ten."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)  # the last tick reaches the highest value
    return [round(index * step, 10) for index in range(first, last + 1)]


def _tick_text(value: float) -> str:
    return f"{value:g}"


def _axis(ticks: list[float], x: Callable[[float], float], top: int, bottom: int) -> str:
    parts = []
    for tick in ticks:
        position = x(tick)
        parts.append(f'<line x1="{position:.1f}" y1="{top}" x2="{position:.1f}" y2="{bottom}" stroke="{GRID}"/>')
        parts.append(
            f'<text x="{position:.1f}" y="{bottom + 14}" text-anchor="middle" fill="{INK}">{_tick_text(tick)}</text>'
        )
    return "".join(parts)


def ratings_chart(rows: Sequence[Mapping[str, object]], *, title: str = "Ratings with 95% confidence intervals") -> str:
    """One line per contestant: a dot at the rating, a bar across its confidence interval."""
    labels = [str(row["label"]) for row in rows]
    texts = distinct_labels(labels)
    left = _label_width(texts)
    right = WIDTH - 40
    height = 30 + ROW_HEIGHT * len(rows) + 30
    values = [float(v) for row in rows for v in (row["rating"], row.get("ci_low"), row.get("ci_high")) if v is not None]
    low, high = (min(values), max(values)) if values else (900.0, 1100.0)
    padding = max(10.0, (high - low) * 0.08)
    ticks = nice_ticks(low - padding, high + padding)
    lo, hi = ticks[0], ticks[-1]

    def x(value: float) -> float:
        return left + (value - lo) / (hi - lo) * (right - left)

    bottom = 20 + ROW_HEIGHT * len(rows)
    parts = [_open(WIDTH, height, title, "ratings"), _axis(ticks, x, 14, bottom)]
    for index, row in enumerate(rows):
        y = 20 + ROW_HEIGHT * index + ROW_HEIGHT / 2
        parts.append(
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" fill="{INK}"><title>{_text(labels[index])}</title>'
            f"{_text(texts[index])}</text>"
        )
        if row.get("ci_low") is not None and row.get("ci_high") is not None:
            x1, x2 = x(float(row["ci_low"])), x(float(row["ci_high"]))  # type: ignore[arg-type]
            parts.append(_line(x1, y, x2, y, width=3, css_class="ci"))
            parts += [_line(end, y - 6, end, y + 6, width=2) for end in (x1, x2)]
        rating = float(row["rating"])  # type: ignore[arg-type]
        parts.append(
            f'<circle cx="{x(rating):.1f}" cy="{y:.1f}" r="5" fill="{INK}"><title>{rating:.0f}</title></circle>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _mix(value: float) -> str:
    """0 → red, 0.5 → light grey, 1 → green (a diverging scale that survives greyscale printing)."""
    low, mid, high = (215, 48, 39), (247, 247, 247), (26, 152, 80)
    value = min(1.0, max(0.0, value))
    start, end, t = (low, mid, value * 2) if value < 0.5 else (mid, high, (value - 0.5) * 2)
    r, g, b = (round(a + (b - a) * t) for a, b in zip(start, end, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(
    *,
    rows: list[str],
    columns: list[str],
    values: list[list[float | None]],
    title: str,
    css_class: str = "heatmap",
    numbered: bool = False,
) -> str:
    """A grid of shares from 0 to 1 (shown as percentages); an empty cell is a pair never met.

    ``numbered`` (rows and columns are the same contestants): the columns are headed by the
    rows' numbers, short and distinct however long the names. Otherwise the column labels are
    slanted and shortened so that no two read the same. Every label's full text is its title.
    """
    row_texts = [f"{n}. {_short(row)}" for n, row in enumerate(rows, start=1)] if numbered else distinct_labels(rows)
    column_texts = [str(n) for n in range(1, len(columns) + 1)] if numbered else distinct_labels(columns)
    left = _label_width(row_texts)
    cell = max(34, min(90, (WIDTH - left - 20) // max(1, len(columns))))
    # A slanted label (-40°) of n characters rises about 0.64 × 6.6n px and reaches 0.77 × 6.6n px
    # to the right of its column: the chart grows to hold it whole.
    reach = 0.0 if numbered else CHAR_WIDTH * max((len(text) for text in column_texts), default=0)
    top = 30 + math.ceil(0.65 * reach)
    width = max(left + cell * len(columns) + 20, math.ceil(left + cell * (len(columns) - 0.5) + 0.77 * reach + 10))
    height = top + cell * len(rows) + 10
    parts = [_open(width, height, title, css_class)]
    for column_index, (column, text) in enumerate(zip(columns, column_texts, strict=True)):
        cx = left + cell * column_index + cell / 2
        placement = (
            f'x="{cx:.1f}" y="{top - 8}" text-anchor="middle"'
            if numbered
            else f'x="{cx:.1f}" y="{top - 8}" transform="rotate(-40 {cx:.1f} {top - 8})"'
        )
        full = f"{column_index + 1}. {column}" if numbered else column
        parts.append(
            f'<text class="column-label" {placement} fill="{INK}"><title>{_text(full)}</title>{_text(text)}</text>'
        )
    for row_index, (row, text) in enumerate(zip(rows, row_texts, strict=True)):
        y = top + cell * row_index
        parts.append(
            f'<text class="row-label" x="{left - 8}" y="{y + cell / 2 + 4:.1f}" text-anchor="end" fill="{INK}">'
            f"<title>{_text(row)}</title>{_text(text)}</text>"
        )
        for column_index, value in enumerate(values[row_index]):
            x = left + cell * column_index
            fill = EMPTY_CELL if value is None else _mix(value)
            shown = "–" if value is None else f"{value * 100:.0f}%"
            tip = f"{row} vs {columns[column_index]}: {shown}"
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="{fill}">'
                f"<title>{_text(tip)}</title></rect>"
                f'<text x="{x + cell / 2 - 1:.1f}" y="{y + cell / 2 + 3:.1f}" text-anchor="middle" fill="{INK}">'
                f"{shown}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    *,
    labels: list[str],
    values: list[float | None],
    ranges: list[tuple[float | None, float | None]],
    title: str,
    unit: str,
    css_class: str = "bars",
) -> str:
    """Horizontal bars (the median, say) with a thin line over the range (min to max)."""
    texts = distinct_labels(labels)
    left = _label_width(texts)
    right = WIDTH - 70
    height = 30 + ROW_HEIGHT * len(labels) + 30
    tops = [v for v in values if v is not None] + [hi for _, hi in ranges if hi is not None]
    ticks = nice_ticks(0.0, max(tops) if tops else 1.0)
    top_value = ticks[-1] if ticks else 1.0

    def x(value: float) -> float:
        return left + value / top_value * (right - left)

    bottom = 20 + ROW_HEIGHT * len(labels)
    parts = [_open(WIDTH, height, title, css_class), _axis(ticks, x, 14, bottom)]
    for index, (label, value, (low, high)) in enumerate(zip(labels, values, ranges, strict=True)):
        y = 20 + ROW_HEIGHT * index
        parts.append(
            f'<text x="{left - 8}" y="{y + ROW_HEIGHT / 2 + 4:.1f}" text-anchor="end" fill="{INK}">'
            f"<title>{_text(label)}</title>{_text(texts[index])}</text>"
        )
        if value is None:
            parts.append(f'<text x="{left + 4}" y="{y + ROW_HEIGHT / 2 + 4:.1f}" fill="{INK}">no data</text>')
            continue
        parts.append(
            f'<rect x="{left}" y="{y + 5}" width="{max(1.0, x(value) - left):.1f}" height="{ROW_HEIGHT - 10}" '
            f'fill="{ACCENT}"><title>{_text(label)}: {value:g} {_text(unit)}</title></rect>'
        )
        if low is not None and high is not None:
            middle = y + ROW_HEIGHT / 2
            parts.append(
                f'<line x1="{x(low):.1f}" y1="{middle:.1f}" x2="{x(high):.1f}" y2="{middle:.1f}" stroke="{INK}"/>'
            )
        parts.append(
            f'<text x="{x(max(value, high or 0)) + 6:.1f}" y="{y + ROW_HEIGHT / 2 + 4:.1f}" fill="{INK}">'
            f"{value:.3g} {_text(unit)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def standalone(svg: str) -> str:
    """The same chart as a file of its own (an .svg next to the Markdown report)."""
    return '<?xml version="1.0" encoding="utf-8"?>\n' + svg.replace(
        "<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1
    )
