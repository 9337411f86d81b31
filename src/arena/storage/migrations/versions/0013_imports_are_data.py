"""Imports are data, not votes: ``conversations.imported`` marks a conversation rebuilt from an export.

Votes cast later on an imported conversation's answers counted as human battles (only the
votes restored by the import were marked), so an import of made-up models followed by one vote
per turn ranked them. The leaderboard now leaves out every vote on, and every verdict about, an
imported conversation unless asked. Existing imports are marked when the audit log names them
(``conversation.import``) or they hold a restored vote; an import with neither cannot be told
apart from a chat.

The column is added in place (``ALTER TABLE ADD COLUMN``), not by rebuilding the table: SQLite
rebuilds by dropping, and with foreign keys on that would delete every turn.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-11
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("conversations", sa.Column("imported", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(
        "UPDATE conversations SET imported = TRUE WHERE "
        "id IN (SELECT target FROM audit_log WHERE action = 'conversation.import') "
        "OR id IN (SELECT conversation_id FROM votes WHERE imported = TRUE)"
    )


def downgrade() -> None:
    op.drop_column("conversations", "imported")  # in place too (SQLite 3.35+), for the same reason
