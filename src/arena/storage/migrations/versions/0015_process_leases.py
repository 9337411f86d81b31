"""Process leases: ``server_processes`` (one row per running server, with a heartbeat) and
``responses.owner_process``, so a process starting up closes only the answers of processes that
are gone, never those another live process is still streaming.

Answers already in the table have no owner; start-up recovery closes those as before.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "server_processes",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_server_processes")),
    )
    # In place (ALTER TABLE ADD COLUMN): rebuilding `responses` on SQLite would cascade to votes.
    op.add_column("responses", sa.Column("owner_process", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("responses", "owner_process")
    op.drop_table("server_processes")
