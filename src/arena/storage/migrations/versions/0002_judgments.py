"""Judgments: LLM-judge verdicts (both orders of a pair, or one grade) with what the judge wrote.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "judgments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("turn_id", sa.Integer(), nullable=True),
        sa.Column("judge_model", sa.String(length=300), nullable=False),
        sa.Column("cloud", sa.Boolean(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("key_a", sa.String(length=400), nullable=False),
        sa.Column("key_b", sa.String(length=400), nullable=True),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("options", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("raw_ab", sa.Text(), nullable=False),
        sa.Column("raw_ba", sa.Text(), nullable=True),
        sa.Column("verdict_ab", sa.String(length=8), nullable=True),
        sa.Column("verdict_ba", sa.String(length=8), nullable=True),
        sa.Column("parsed", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("winner", sa.String(length=8), nullable=True),
        sa.Column("consistent", sa.Boolean(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("mode IN ('pairwise', 'single', 'reference')", name=op.f("ck_judgments_mode")),
        sa.CheckConstraint(
            "(mode = 'pairwise' AND key_b IS NOT NULL AND raw_ba IS NOT NULL"
            " AND verdict_ab IN ('A', 'B', 'tie') AND verdict_ba IN ('A', 'B', 'tie')"
            " AND winner IN ('a', 'b', 'tie') AND consistent IS NOT NULL AND score IS NULL)"
            " OR (mode <> 'pairwise' AND key_b IS NULL AND raw_ba IS NULL AND verdict_ab IS NULL"
            " AND verdict_ba IS NULL AND winner IS NULL AND consistent IS NULL AND score IS NOT NULL)",
            name=op.f("ck_judgments_shape"),
        ),
        sa.CheckConstraint("(conversation_id IS NULL) = (turn_id IS NULL)", name=op.f("ck_judgments_turn")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_judgments_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["turn_id"], ["turns.id"], name=op.f("fk_judgments_turn_id_turns"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_judgments")),
    )
    op.create_index(op.f("ix_judgments_conversation_id"), "judgments", ["conversation_id"])
    op.create_index(op.f("ix_judgments_judge_model"), "judgments", ["judge_model"])
    op.create_index(op.f("ix_judgments_run_id"), "judgments", ["run_id"])
    op.create_index(op.f("ix_judgments_turn_id"), "judgments", ["turn_id"])


def downgrade() -> None:
    op.drop_table("judgments")  # its indexes go with it
