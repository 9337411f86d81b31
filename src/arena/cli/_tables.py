"""Tables whose ids are never cut: the string `-m`, `--baseline` or `arena user role` needs is
copied from them, so it must come out whole at any terminal width and in a pipe.

- In a pipe (not a terminal): plain aligned lines, as long as they need to be, no box.
- On a terminal: a Rich table where the columns that hold ids (``keep``) never wrap or shrink;
  when the table cannot fit, the other columns wrap, then the least important are dropped; if
  it still cannot fit (the ids alone are wider than the terminal), the plain lines again (the terminal wraps them,
  and a copy still gets the whole id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

UNBOUNDED = 100_000  # a width no row reaches: measures a table as it would like to be


@dataclass(frozen=True, kw_only=True)
class Column:
    header: str
    justify: Literal["left", "right"] = "left"
    keep: bool = False  # an id or name a user copies: never cut, wrapped or dropped
    priority: int = 0  # on a narrow terminal the lowest is dropped first (the right-most of equals)
    required: bool = False  # may wrap but is never dropped (a matrix's columns)


def print_table(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    caption: str | None = None,
) -> None:
    """Print rows of plain strings (never read as markup) under these columns."""
    shown = list(range(len(columns)))
    if console.is_terminal:
        while True:
            table = _rich_table(columns, rows, shown, title=title, caption=caption)
            if _narrowest(console, table) <= console.width:
                console.print(table)
                _say_hidden(console, [columns[i].header for i in range(len(columns)) if i not in shown])
                return
            droppable = [i for i in shown if not (columns[i].keep or columns[i].required)]
            if not droppable:
                break
            shown.remove(min(reversed(droppable), key=lambda i: columns[i].priority))
    _print_plain(console, columns, rows, title=title, caption=caption)


def _say_hidden(console: Console, headers: list[str]) -> None:
    """A dropped column is said out loud: a user must not think the data is not there."""
    if headers:
        note = f"(hidden to fit the terminal: {', '.join(headers)}; a wider terminal or --json shows them)"
        console.print(Text(note))  # wrapped to the terminal, unlike the id lines


def _rich_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    shown: list[int],
    *,
    title: str | None,
    caption: str | None,
) -> Table:
    table = Table(title=title, title_justify="left", caption=caption)
    for i in shown:
        column = columns[i]
        widest = max((cell_len(row[i]) for row in rows), default=0)
        if column.keep:
            table.add_column(column.header, justify=column.justify, no_wrap=True, min_width=widest)
        else:
            table.add_column(column.header, justify=column.justify)
    for row in rows:
        table.add_row(*(Text(row[i]) for i in shown))
    return table


def _narrowest(console: Console, table: Table) -> int:
    """The least width the table needs with every id whole (the other columns wrapped to their longest word)."""
    return Measurement.get(console, console.options.update_width(UNBOUNDED), table).minimum


def _print_plain(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None,
    caption: str | None,
) -> None:
    lines = [[column.header for column in columns], *([cell for cell in row] for row in rows)]
    widths = [max(cell_len(line[i]) for line in lines) for i in range(len(columns))]

    def pad(cell: str, i: int) -> str:
        gap = " " * (widths[i] - cell_len(cell))
        return gap + cell if columns[i].justify == "right" else cell + gap

    if title:
        _print_line(console, title)
    for line in lines:
        _print_line(console, "  ".join(pad(cell, i) for i, cell in enumerate(line)).rstrip())
    if caption:
        _print_line(console, caption)


def _print_line(console: Console, line: str) -> None:
    console.print(Text(line), soft_wrap=True)  # soft_wrap: Rich neither wraps nor crops it
