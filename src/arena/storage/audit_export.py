"""The audit log as a file: JSON Lines (one entry a line, re-verifiable) or CSV (for reading).

Both are streamed from the database, oldest entry first, so a long log never sits in memory.
A JSON Lines export carries every field the hash covers, exactly as hashed: anyone can check it
with ``storage.audit.canonical_content`` (and the audit key, for signed entries). The CSV is for
spreadsheets, written by ``arena.csv_safe``: a cell that a spreadsheet would run as a formula (a
login failure's typed username may start with "=") is prefixed with a quote, so CSV cells are
not always the stored bytes.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final, Literal

from arena import csv_safe
from arena.storage import audit
from arena.storage.db import Database

ExportFormat = Literal["jsonl", "csv"]
COLUMNS: Final = (
    "id", "created_at", "actor_id", "actor", "action", "target", "ip", "detail", "prev_hash", "key_id", "hash",
)  # fmt: skip
MEDIA_TYPES: Final[dict[str, str]] = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


def filename(fmt: ExportFormat, moment: datetime) -> str:
    return f"arena-audit-{moment.strftime('%Y%m%dT%H%M%SZ')}.{fmt}"


def _csv_cell(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def _csv_line(row: dict[str, Any] | None) -> str:
    buffer = io.StringIO()
    writer = csv_safe.Writer(buffer, lineterminator="\n")
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
