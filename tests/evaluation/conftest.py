"""The evaluation tests' databases: the shared SQLite and PostgreSQL fixtures (tests/support/db_fixtures.py)."""

from __future__ import annotations

from tests.support.db_fixtures import blank_database, database, migrated_postgres_database, migrated_sqlite_file

__all__ = ["blank_database", "database", "migrated_postgres_database", "migrated_sqlite_file"]
