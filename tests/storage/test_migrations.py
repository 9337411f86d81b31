from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, String, inspect

from arena.storage.db import Database
from arena.storage.models import Base

APP_TABLES = {
    "conversations",
    "conversation_instances",
    "turns",
    "instances",
    "responses",
    "votes",
    "judgments",
    "bench_runs",
    "bench_items",
    "bench_judgments",
    "users",
    "user_sessions",
    "api_tokens",
    "conversation_shares",
    "audit_log",
    "id_counters",
    "login_attempts",
    "server_processes",
    "oidc_identities",
    "oidc_logins",
    "battles",
    "battle_categories",
    "battle_state",
    "battle_changes",
}


def _schema_differences(database: Database) -> list[object]:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def _current_revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_migrating_a_blank_database_gives_exactly_the_models_schema(blank_database: Database) -> None:
    assert inspect(blank_database.engine).get_table_names() == []

    blank_database.migrate()

    assert set(inspect(blank_database.engine).get_table_names()) == APP_TABLES | {"alembic_version"}
    assert _schema_differences(blank_database) == []
    head = ScriptDirectory.from_config(blank_database.alembic_config()).get_current_head()
    assert _current_revision(blank_database) == head


def test_migrate_is_safe_to_run_again_on_a_current_database(database: Database) -> None:
    before = _current_revision(database)

    database.migrate()

    assert _current_revision(database) == before
    assert _schema_differences(database) == []


def test_downgrade_to_base_removes_every_table_and_upgrade_restores_them(blank_database: Database) -> None:
    blank_database.migrate()
    config = blank_database.alembic_config()
    with blank_database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(blank_database.engine).get_table_names()) <= {"alembic_version"}

    blank_database.migrate()

    assert _schema_differences(blank_database) == []


def test_the_schema_check_notices_a_model_that_drifted_from_the_migrations(database: Database) -> None:
    # Guards the check above: a model change without a migration must not pass unnoticed.
    drifted = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["turns"].append_column(Column("rating", Integer(), nullable=True))
    drifted.tables["conversations"].c.title.type = String(50)

    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, drifted)

    kinds = {difference[0] if isinstance(difference, tuple) else difference[0][0] for difference in differences}
    assert kinds == {"add_column", "modify_type"}
