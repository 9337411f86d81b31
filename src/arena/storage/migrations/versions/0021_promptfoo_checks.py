"""promptfoo configurations as benchmarks (issue 16): ``bench_items.checks`` holds the test's
assertions (rendered with its vars) and ``bench_items.grade`` how the answer graded against them
(pass, weighted score, reason, one result per assertion). Both encrypted JSON, NULL for items of
an ordinary prompt set.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # In place (ALTER TABLE ADD COLUMN): nothing to rebuild on SQLite.
    op.add_column("bench_items", sa.Column("checks", sa.JSON(none_as_null=True), nullable=True))
    op.add_column("bench_items", sa.Column("grade", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    op.drop_column("bench_items", "grade")
    op.drop_column("bench_items", "checks")
