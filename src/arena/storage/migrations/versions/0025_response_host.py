"""``responses.host``: the machine whose server process generated the answer, recorded with it.
The speed figures grouped interactive answers by the host of their process's lease row, which is
deleted when the process stops: after a restart earlier answers moved to "unknown host". Backfill:
the host of every answer whose lease row still exists; the others stay NULL (not known).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("responses", sa.Column("host", sa.String(length=255), nullable=True))
    op.execute(
        "UPDATE responses SET host = (SELECT server_processes.host FROM server_processes "
        "WHERE server_processes.id = responses.owner_process) WHERE owner_process IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_column("responses", "host")
