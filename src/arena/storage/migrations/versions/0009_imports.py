"""Imported votes are marked, and instance ids can no longer be squatted.

- ``votes.imported``: votes restored from an export are data, not votes cast here; the
  leaderboard leaves them out unless asked. Votes already imported (their conversation is the
  target of a ``conversation.import`` audit entry, and no signed-in voter cast them) are marked.
- Instance ids: the old id replaced every character outside ``[A-Za-z0-9._-]`` with ``_``, so
  ``ollama:tiny_1b`` and ``ollama:tiny:1b`` shared one id and the first stored model won. The new
  spelling (``evaluation/conversation/instances.py``) keeps ``:`` as ``_`` and escapes the rest,
  so most ids are unchanged; every row whose id differs from its new spelling is re-keyed here,
  with everything that names it. A re-keyed id always holds ``~``, which no old id held, so it
  never meets another row's id.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen copy of the id spelling as of this revision: a migration must not follow later code.
_KEPT = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-")


def _spell(model: str) -> str:
    spelled = "".join(
        ch if ch in _KEPT else "_" if ch == ":" else "".join(f"~{b:02x}" for b in ch.encode("utf-8")) for ch in model
    )
    if len(spelled) <= 200:
        return spelled
    return spelled[:120] + "~~" + hashlib.sha256(model.encode("utf-8")).hexdigest()


def _instance_id(row: Any) -> str:
    settings = (row.temperature, row.top_p, row.top_k, row.repeat_penalty, row.num_predict, row.seed)
    return _spell(row.model) + "__" + "_".join(str(value) for value in settings)


# (table, column) pairs that hold an instance id as plain text or a foreign key.
_REFERENCES = (
    ("conversation_instances", "instance_id"),
    ("responses", "instance_id"),
    ("votes", "instance_a"),
    ("votes", "instance_b"),
    ("judgments", "key_a"),
    ("judgments", "key_b"),
    ("bench_items", "instance_id"),
    ("bench_judgments", "instance_a"),
    ("bench_judgments", "instance_b"),
)
_COLUMNS = "model, temperature, top_p, top_k, repeat_penalty, num_predict, seed, created_at"


def upgrade() -> None:
    with op.batch_alter_table("votes") as batch:
        batch.add_column(sa.Column("imported", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(
        "UPDATE votes SET imported = TRUE WHERE voter_id IS NULL AND conversation_id IN "
        "(SELECT target FROM audit_log WHERE action = 'conversation.import')"
    )
    _rekey_instances()


def _rekey_instances() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text(f"SELECT id, {_COLUMNS} FROM instances")).all()
    renamed = {row.id: _instance_id(row) for row in rows if _instance_id(row) != row.id}
    for old, new in renamed.items():
        # Copy, repoint, delete: no foreign key ever names a missing row, on any database.
        connection.execute(
            sa.text(f"INSERT INTO instances (id, {_COLUMNS}) SELECT :new, {_COLUMNS} FROM instances WHERE id = :old"),
            {"old": old, "new": new},
        )
        for table, column in _REFERENCES:
            connection.execute(
                sa.text(f"UPDATE {table} SET {column} = :new WHERE {column} = :old"), {"old": old, "new": new}
            )
        connection.execute(sa.text("DELETE FROM instances WHERE id = :old"), {"old": old})
    if renamed:
        _rekey_bench_specs(connection, renamed)


def _rekey_bench_specs(connection: sa.Connection, renamed: dict[str, str]) -> None:
    runs = sa.table(
        "bench_runs", sa.column("id", sa.String), sa.column("instances", sa.JSON), sa.column("judge", sa.JSON)
    )
    for run_id, instances, judge in connection.execute(sa.select(runs.c.id, runs.c.instances, runs.c.judge)).all():
        new_instances = [
            {**i, "instance_id": renamed.get(i.get("instance_id"), i.get("instance_id"))} for i in instances or []
        ]
        new_judge = judge
        if isinstance(judge, dict):
            new_judge = {
                **judge,
                **{key: renamed.get(judge[key], judge[key]) for key in ("instance_id", "baseline") if judge.get(key)},
            }
        if new_instances != (instances or []) or new_judge != judge:
            connection.execute(
                runs.update().where(runs.c.id == run_id).values(instances=new_instances, judge=new_judge)
            )


def downgrade() -> None:
    # Re-keyed instance ids stay as they are: the old spelling cannot tell them apart.
    with op.batch_alter_table("votes") as batch:
        batch.drop_column("imported")
