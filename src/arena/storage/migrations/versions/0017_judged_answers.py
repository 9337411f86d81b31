"""Which answers a verdict judged: ``judgments.response_a_id`` / ``response_b_id``, so a verdict
about a stored turn can say, after a regenerate, that it was about an earlier answer.

Verdicts already stored (and raw-prompt ones) have neither: which answers they judged is unknown.
Plain integers, no foreign key: adding one would rebuild `judgments` on SQLite, and a verdict
must outlive nothing it names (a response goes only with its turn, which takes the verdict along).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("judgments", sa.Column("response_a_id", sa.Integer(), nullable=True))
    op.add_column("judgments", sa.Column("response_b_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("judgments", "response_b_id")
    op.drop_column("judgments", "response_a_id")
