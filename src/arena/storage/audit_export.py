"""The audit log as a file: JSON Lines (one entry a line, re-verifiable) or CSV (for reading).

Both are streamed from the database, oldest entry first, so a long log never sits in memory.
A JSON Lines export carries every field the hash covers, exactly as hashed: anyone can check it
with ``storage.audit.canonical_content``. The CSV is for spreadsheets: a cell that a spreadsheet
would run as a formula (a login failure's typed username may start with "=") is prefixed with a
quote, so CSV cells are not always the stored bytes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final, Literal

from arena.storage import audit
from arena.storage.db import Database

ExportFormat = Literal["jsonl", "csv"]
COLUMNS: Final = ("id", "created_at", "actor_id", "actor", "action", "target", "ip", "detail", "prev_hash", "hash")
MEDIA_TYPES: Final[dict[str, str]] = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def filename(fmt: ExportFormat, moment: datetime) -> str:
    return f"arena-audit-{moment.strftime('%Y%m%dT%H%M%SZ')}.{fmt}"


def _csv_cell(value: Any) -> Any:
    if isinstance(value, dict):
        value = json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


def _csv_line(row: dict[str, Any] | None) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS if row is None else [_csv_cell(row[column]) for column in COLUMNS])
    return buffer.getvalue()


def export_lines(database: Database, fmt: ExportFormat) -> Iterator[str]:
    """Every entry as lines of ``fmt``; the session stays open while the caller consumes them."""
    if fmt == "csv":
        yield _csv_line(None)
    with database.session() as session:
        for entry in audit.iter_entries(session):
            row = audit.as_record(entry)
            if fmt == "csv":
                yield _csv_line(row)
            else:
                yield json.dumps(row, ensure_ascii=False) + "\n"
