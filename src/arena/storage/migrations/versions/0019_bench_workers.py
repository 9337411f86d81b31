"""Bench workers (issue 12): ``bench_runs.queued_at`` puts a run in the queue that ``arena bench
worker`` processes serve; each item and judgment records the ``worker`` holding it, its
``lease_until`` (renewed by the worker's heartbeat; an expired lease lets another worker take the
row over) and the ``host`` and ``engine`` that produced it, so speeds from different machines are
never mixed unlabelled. Rows stored before are NULL: produced somewhere unrecorded.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORK_TABLES = ("bench_items", "bench_judgments")


def upgrade() -> None:
    # In place (ALTER TABLE ADD COLUMN): nothing to rebuild on SQLite.
    op.add_column("bench_runs", sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
    for table in WORK_TABLES:
        op.add_column(table, sa.Column("worker", sa.String(200), nullable=True))
        op.add_column(table, sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        op.add_column(table, sa.Column("host", sa.String(255), nullable=True))
        op.add_column(table, sa.Column("engine", sa.String(300), nullable=True))


def downgrade() -> None:
    # In place too (SQLite 3.35+): rebuilding bench_runs would cascade to its items.
    for table in WORK_TABLES:
        for column in ("engine", "host", "lease_until", "worker"):
            op.drop_column(table, column)
    op.drop_column("bench_runs", "queued_at")
