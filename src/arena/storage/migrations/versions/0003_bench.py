"""Batch benchmarks: runs, their items (prompt × instance × repeat) and judged pairs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bench_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("prompt_set_name", sa.String(length=200), nullable=False),
        sa.Column("prompt_file", sa.String(length=200), nullable=True),
        sa.Column("prompt_set_sha256", sa.String(length=64), nullable=False),
        sa.Column("prompt_count", sa.Integer(), nullable=False),
        sa.Column("instances", sa.JSON(), nullable=False),
        sa.Column("judge", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("system", sa.Text(), nullable=True),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("environment", sa.JSON(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'interrupted', 'cancelled', 'done')", name=op.f("ck_bench_runs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bench_runs")),
    )
    op.create_index(op.f("ix_bench_runs_created_at"), "bench_runs", ["created_at"])
    op.create_table(
        "bench_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("turns", sa.JSON(), nullable=False),
        sa.Column("reference", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("instance_id", sa.String(length=400), nullable=False),
        sa.Column("model", sa.String(length=300), nullable=False),
        sa.Column("repeat", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("tokens", sa.Integer(), nullable=True),
        sa.Column("ttft_s", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("tokens_per_sec", sa.Float(), nullable=True),
        sa.Column("turn_metrics", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'running', 'done', 'error')", name=op.f("ck_bench_items_status")),
        sa.ForeignKeyConstraint(
            ["run_id"], ["bench_runs.id"], name=op.f("fk_bench_items_run_id_bench_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bench_items")),
        sa.UniqueConstraint(
            "run_id",
            "prompt_id",
            "instance_id",
            "repeat",
            name=op.f("uq_bench_items_run_id_prompt_id_instance_id_repeat"),
        ),
    )
    op.create_index(op.f("ix_bench_items_run_id_status"), "bench_items", ["run_id", "status"])
    op.create_table(
        "bench_judgments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("prompt_id", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("repeat", sa.Integer(), nullable=False),
        sa.Column("instance_a", sa.String(length=400), nullable=False),
        sa.Column("instance_b", sa.String(length=400), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('a', 'b', 'tie', 'both_bad')", name=op.f("ck_bench_judgments_outcome")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'error', 'skipped')", name=op.f("ck_bench_judgments_status")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["bench_runs.id"], name=op.f("fk_bench_judgments_run_id_bench_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bench_judgments")),
        sa.UniqueConstraint(
            "run_id", "prompt_id", "repeat", "instance_a", "instance_b", name="uq_bench_judgments_pair"
        ),
    )
    op.create_index(op.f("ix_bench_judgments_run_id_status"), "bench_judgments", ["run_id", "status"])


def downgrade() -> None:
    op.drop_table("bench_judgments")  # indexes go with their tables
    op.drop_table("bench_items")
    op.drop_table("bench_runs")
