"""Persistence: SQLAlchemy models, Alembic migrations and the functions that read and write them.

Nothing outside this package writes SQL. Open a ``Database``, call ``migrate()`` once at
start-up, then pass ``database.session()`` sessions to the functions of one module per kind of
record: ``repository`` (conversations, turns, answers), ``votes``, ``judgments``, ``bench``,
``accounts`` and ``audit``.
"""

from __future__ import annotations

from arena.storage import audit_models, auth_models, bench_models  # noqa: F401 - registers their tables on Base.metadata
from arena.storage.db import Database

__all__ = ["Database"]
