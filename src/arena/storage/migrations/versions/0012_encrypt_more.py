"""Encryption at rest for more columns: bench run names, prompt-set names and file names,
categories and judge answer keys may now be stored encrypted, which makes them longer than
their VARCHAR lengths. PostgreSQL enforces those lengths, so its columns become TEXT (the
storage functions still check the lengths); SQLite ignores lengths and keeps its columns.
Error texts (``responses.error``, ``bench_items.error``) were TEXT already.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, its VARCHAR length, nullable)
COLUMNS: tuple[tuple[str, str, int, bool], ...] = (
    ("bench_runs", "name", 200, False),
    ("bench_runs", "prompt_set_name", 200, False),
    ("bench_runs", "prompt_file", 200, True),
    ("bench_items", "category", 100, True),
    ("bench_judgments", "category", 100, True),
    ("judgments", "category", 100, True),
    ("judgments", "key_a", 400, False),
    ("judgments", "key_b", 400, True),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column, length, nullable in COLUMNS:
            op.alter_column(
                table, column, type_=sa.Text(), existing_type=sa.String(length=length), existing_nullable=nullable
            )


def downgrade() -> None:
    # Fails while encrypted values are stored: run `arena db rekey --decrypt` first.
    if op.get_bind().dialect.name == "postgresql":
        for table, column, length, nullable in COLUMNS:
            op.alter_column(
                table, column, type_=sa.String(length=length), existing_type=sa.Text(), existing_nullable=nullable
            )
