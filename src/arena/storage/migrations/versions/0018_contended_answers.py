"""``responses.contended``: another round's generation (another conversation, a regenerate, a
judge, a bench item) ran beside the answer, so its speed is not compared and it stays out of
the crown. Answers stored before are NULL (not known); they have no engine clock either
(``engine_timed``), which already keeps them out of the crown.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("responses", sa.Column("contended", sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column("responses", "contended")
