"""Persistence: SQLAlchemy models, Alembic migrations and the one repository.

Nothing outside this package writes SQL. Open a ``Database``, call ``migrate()`` once at
start-up, then pass ``database.session()`` sessions to the functions in ``repository``.
"""

from __future__ import annotations

from arena.storage import audit_models, auth_models, bench_models  # noqa: F401 - registers their tables on Base.metadata
from arena.storage.db import Database

__all__ = ["Database"]
