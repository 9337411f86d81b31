"""Whether a promptfoo test passed, in the clear beside its encrypted grade
(``bench_items.test_passed``), so a run's pass rate is one SQL count for the runs table. NULL for
items without assertions, items not graded yet, and items graded before this revision (their
pass rate is in the run's report).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("bench_items", sa.Column("test_passed", sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column("bench_items", "test_passed")
