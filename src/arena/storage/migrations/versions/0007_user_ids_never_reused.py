"""User ids are never reused, and a removed user's objects fall to the admins.

SQLite gives a new row the largest rowid plus one, so removing the newest user freed its id
for the next account, which then inherited everything still naming it. A counter table now
hands out user ids; conversations and bench runs naming a user that no longer exists become
ownerless (admins see those).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "id_counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_id_counters")),
    )
    op.execute("INSERT INTO id_counters (name, last_id) SELECT 'users', COALESCE(MAX(id), 0) FROM users")
    for table in ("conversations", "bench_runs"):
        op.execute(
            f"UPDATE {table} SET owner_id = NULL "
            "WHERE owner_id IS NOT NULL AND owner_id NOT IN (SELECT id FROM users)"
        )


def downgrade() -> None:
    op.drop_table("id_counters")
