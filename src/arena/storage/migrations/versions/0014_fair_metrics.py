"""Fair metrics: each answer's prompt-cache state, prompt time, finish reason and round.

``cached_prompt_tokens`` (how many prompt tokens an engine's cache served), ``prompt_s`` (its
prompt-processing time) and ``finish_reason`` ("length": stopped at the token limit) are None
where the engine did not say, and for every answer stored before. ``generation_round`` groups
the answers generated together: 0 with the turn, a new number for each regenerate; answers
stored before are all round 0, as nothing says which were regenerated.

Columns are added in place (``ALTER TABLE ADD COLUMN``), not by rebuilding the table: SQLite
rebuilds by dropping, and with foreign keys on that would delete every vote on an answer.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("responses", sa.Column("cached_prompt_tokens", sa.Integer(), nullable=True))
    op.add_column("responses", sa.Column("prompt_s", sa.Float(), nullable=True))
    op.add_column("responses", sa.Column("finish_reason", sa.String(length=32), nullable=True))
    op.add_column("responses", sa.Column("generation_round", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    for column in ("generation_round", "finish_reason", "prompt_s", "cached_prompt_tokens"):
        op.drop_column("responses", column)  # in place too (SQLite 3.35+), for the same reason
