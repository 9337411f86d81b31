"""Categories for human votes (issue 15): ``votes.category`` is the category of the prompt a vote
was about, chosen by the voter, so per-category leaderboards count votes as well as verdicts.
Existing votes keep NULL (no category). Like ``judgments.category`` it may be stored encrypted,
so on PostgreSQL it is TEXT (the storage layer limits it to 100 characters).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # In place (ALTER TABLE ADD COLUMN), NULL for every existing vote: nothing to rebuild or backfill.
    kind = sa.Text() if op.get_bind().dialect.name == "postgresql" else sa.String(length=100)
    op.add_column("votes", sa.Column("category", kind, nullable=True))


def downgrade() -> None:
    op.drop_column("votes", "category")
