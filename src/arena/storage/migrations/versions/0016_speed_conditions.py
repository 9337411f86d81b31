"""Speed conditions: each answer's wait for a free engine slot, its model load, and whether its
tokens/s is the engine's own generation clock, so the crown and the card notes survive a reload.

All three are None for answers stored before: nothing says whether they waited or loaded, and
an old answer with an unknown cache and no known clock stays out of the crown.

Columns are added in place (``ALTER TABLE ADD COLUMN``), as in 0014: rebuilding ``responses``
on SQLite would cascade to its votes.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("responses", sa.Column("wait_s", sa.Float(), nullable=True))
    op.add_column("responses", sa.Column("load_s", sa.Float(), nullable=True))
    op.add_column("responses", sa.Column("engine_timed", sa.Boolean(), nullable=True))


def downgrade() -> None:
    for column in ("engine_timed", "load_s", "wait_s"):
        op.drop_column("responses", column)
