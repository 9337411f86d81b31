"""Every object a user creates has an owner: raw-prompt judge runs get ``owner_id``.

Judgments about a stored turn belong to that turn's conversation; a raw-prompt one had no owner,
so every evaluator saw its prompt, answers, answer key and the judge's output. The column is
nullable: judgments from before this revision (and a removed user's) have no owner, and only
admins see those. Benchmark runs already had ``owner_id``; it gets the index the lists filter by.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-14
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("judgments", sa.Column("owner_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_judgments_owner_id"), "judgments", ["owner_id"])
    op.create_index(op.f("ix_bench_runs_owner_id"), "bench_runs", ["owner_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_bench_runs_owner_id"), table_name="bench_runs")
    op.drop_index(op.f("ix_judgments_owner_id"), table_name="judgments")
    with op.batch_alter_table("judgments") as batch:
        batch.drop_column("owner_id")
