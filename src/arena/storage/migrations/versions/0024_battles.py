"""Stored battles (issue 15): ``battles``, one row per battle the votes and verdicts give, so the
leaderboard counts pairs with SQL instead of deriving every battle on each read;
``battle_categories`` (a category's name once, encrypted like the judgments' own);
``battle_changes`` (what each change touched, for online Elo read incrementally); and
``battle_state``, whose one row asks for the backfill.

The backfill derives the battles from the existing votes and verdicts with the arena's own rules
(``storage/battles.rebuild``). It runs right after the migrations, in ``Database.migrate`` under
the same lock, rather than here: the rules read the tables through the models of the code that
runs, which a later migration may have changed.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "battle_categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100).with_variant(sa.Text(), "postgresql"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_battle_categories")),
    )
    op.create_table(
        "battles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("view", sa.SmallInteger(), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=True),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("turn_id", sa.Integer(), nullable=True),
        sa.Column("instance_a", sa.String(length=400), nullable=False),
        sa.Column("instance_b", sa.String(length=400), nullable=False),
        sa.Column("model_a", sa.String(length=300), nullable=False),
        sa.Column("model_b", sa.String(length=300), nullable=False),
        sa.Column("response_a_id", sa.Integer(), nullable=True),
        sa.Column("response_b_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("judge_model", sa.String(length=300), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("counts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.SmallInteger(), nullable=False),
        sa.Column("group_key", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_battles_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["battle_categories.id"], name=op.f("fk_battles_category_id_battle_categories")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_battles")),
    )
    op.create_index(op.f("ix_battles_conversation_id"), "battles", ["conversation_id"])
    op.create_index(op.f("ix_battles_run_id"), "battles", ["run_id"])
    op.create_index("ix_battles_reading_order", "battles", ["counts_at", "kind", "group_key", "position"])
    totals = ["source", "judge_model", "category_id"]
    op.create_index(
        "ix_battles_model_totals", "battles", [*totals, "model_a", "model_b", "outcome", "view", "counts_at"]
    )
    op.create_index(
        "ix_battles_instance_totals", "battles", [*totals, "instance_a", "instance_b", "outcome", "view", "counts_at"]
    )
    op.create_table(
        "battle_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("earliest", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_battle_changes")),
    )
    state = op.create_table(
        "battle_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rebuild", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_battle_state")),
    )
    op.bulk_insert(state, [{"id": 1, "rebuild": True}])


def downgrade() -> None:
    op.drop_table("battle_state")
    op.drop_table("battle_changes")
    op.drop_index("ix_battles_instance_totals", table_name="battles")
    op.drop_index("ix_battles_model_totals", table_name="battles")
    op.drop_index("ix_battles_reading_order", table_name="battles")
    op.drop_index(op.f("ix_battles_run_id"), table_name="battles")
    op.drop_index(op.f("ix_battles_conversation_id"), table_name="battles")
    op.drop_table("battles")
    op.drop_table("battle_categories")
