"""Persistence: SQLAlchemy models, Alembic migrations and the functions that read and write them.

Nothing outside this package writes SQL. Open a ``Database``, call ``migrate()`` once at
start-up, then pass ``database.session()`` sessions to the functions of one module per kind of
record: ``repository`` (conversations, turns, answers), ``turn_records`` (a whole new turn at
once), ``votes``, ``judgments``, ``bench``, ``accounts``, ``ownership`` (who may reach an owned
row) and ``audit`` (``audit_export`` writes the log as a file). The tables are declared in ``models``, ``auth_models``, ``bench_models`` and
``audit_models``; ``schema`` gathers them on one metadata, and ``db`` imports it, so opening a
``Database`` always knows every table.
"""

from __future__ import annotations

from arena.storage.db import Database

__all__ = ["Database"]
