"""Encryption at rest: a conversation title may be stored encrypted, which makes it longer than
200 characters. PostgreSQL enforces VARCHAR lengths, so its column becomes TEXT (the repository
still limits titles to 200 characters); SQLite ignores lengths and keeps its column as it is.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "conversations", "title", type_=sa.Text(), existing_type=sa.String(length=200), existing_nullable=False
        )


def downgrade() -> None:
    # Fails while encrypted titles are stored: run `arena db rekey --decrypt` first.
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "conversations", "title", type_=sa.String(length=200), existing_type=sa.Text(), existing_nullable=False
        )
