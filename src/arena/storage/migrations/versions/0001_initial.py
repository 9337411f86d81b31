"""Conversations, their instances, turns, responses and votes.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("blind", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revealed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
    )
    op.create_index(op.f("ix_conversations_owner_id"), "conversations", ["owner_id"])
    op.create_index(op.f("ix_conversations_updated_at"), "conversations", ["updated_at"])

    op.create_table(
        "instances",
        sa.Column("id", sa.String(length=400), nullable=False),
        sa.Column("model", sa.String(length=300), nullable=False),
        sa.Column("temperature", sa.Float(), nullable=False),
        sa.Column("top_p", sa.Float(), nullable=False),
        sa.Column("top_k", sa.Integer(), nullable=False),
        sa.Column("repeat_penalty", sa.Float(), nullable=False),
        sa.Column("num_predict", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instances")),
    )

    op.create_table(
        "conversation_instances",
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("instance_id", sa.String(length=400), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("blind_label", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_instances_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name=op.f("fk_conversation_instances_instance_id_instances")
        ),
        sa.PrimaryKeyConstraint("conversation_id", "instance_id", name=op.f("pk_conversation_instances")),
        sa.UniqueConstraint(
            "conversation_id", "position", name=op.f("uq_conversation_instances_conversation_id_position")
        ),
    )

    op.create_table(
        "turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("system", sa.Text(), nullable=True),
        sa.Column("user_text", sa.Text(), nullable=False),
        sa.Column("attachments", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_turns_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_turns")),
        sa.UniqueConstraint("conversation_id", "index", name=op.f("uq_turns_conversation_id_index")),
    )

    op.create_table(
        "responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("turn_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.String(length=400), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("ttft_s", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("tokens_per_sec", sa.Float(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 'streaming' AND finished_at IS NULL) OR (status <> 'streaming' AND finished_at IS NOT NULL)",
            name=op.f("ck_responses_finished_at"),
        ),
        sa.CheckConstraint("status IN ('streaming', 'ok', 'error', 'stopped')", name=op.f("ck_responses_status")),
        sa.ForeignKeyConstraint(["instance_id"], ["instances.id"], name=op.f("fk_responses_instance_id_instances")),
        sa.ForeignKeyConstraint(["turn_id"], ["turns.id"], name=op.f("fk_responses_turn_id_turns"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responses")),
    )
    op.create_index(op.f("ix_responses_status"), "responses", ["status"])
    op.create_index(op.f("ix_responses_turn_id_instance_id"), "responses", ["turn_id", "instance_id"])

    op.create_table(
        "votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("turn_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=True),
        sa.Column("value", sa.String(length=16), nullable=False),
        sa.Column("instance_a", sa.String(length=400), nullable=True),
        sa.Column("instance_b", sa.String(length=400), nullable=True),
        sa.Column("voter_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'thumb' AND value IN ('up', 'down')"
            " AND response_id IS NOT NULL AND instance_a IS NULL AND instance_b IS NULL)"
            " OR (kind = 'pairwise' AND value IN ('A', 'B', 'tie', 'both_bad')"
            " AND response_id IS NULL AND instance_a IS NOT NULL AND instance_b IS NOT NULL"
            " AND instance_a <> instance_b)",
            name=op.f("ck_votes_shape"),
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_votes_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["instance_a"], ["instances.id"], name=op.f("fk_votes_instance_a_instances")),
        sa.ForeignKeyConstraint(["instance_b"], ["instances.id"], name=op.f("fk_votes_instance_b_instances")),
        sa.ForeignKeyConstraint(
            ["response_id"], ["responses.id"], name=op.f("fk_votes_response_id_responses"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["turn_id"], ["turns.id"], name=op.f("fk_votes_turn_id_turns"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_votes")),
    )
    op.create_index(op.f("ix_votes_conversation_id"), "votes", ["conversation_id"])
    op.create_index(op.f("ix_votes_response_id"), "votes", ["response_id"])
    op.create_index(op.f("ix_votes_turn_id"), "votes", ["turn_id"])


def downgrade() -> None:
    # Indexes go with their tables on both backends.
    op.drop_table("votes")
    op.drop_table("responses")
    op.drop_table("turns")
    op.drop_table("conversation_instances")
    op.drop_table("instances")
    op.drop_table("conversations")
