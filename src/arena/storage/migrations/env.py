"""Alembic environment: the metadata is every table (``arena.storage.schema``), the URL the app's.

``Database.migrate()`` hands over an open connection in ``config.attributes``; run from the
command line (``alembic -c src/arena/storage/alembic.ini …``) the URL is read from the arena
settings (``DATABASE_URL`` or the SQLite file under the data directory).
"""

from __future__ import annotations

from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from arena.storage.encrypted_types import EncryptedJSON, EncryptedString, EncryptedText
from arena.storage.models import UTCDateTime
from arena.storage.schema import metadata

config = context.config
target_metadata = metadata  # every table, however its module is named


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from arena.settings import get_settings

    return get_settings().resolved_database_url


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    # Migrations must not import application types that may change later.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, EncryptedString):
        return f"sa.String(length={obj.length})"  # TEXT on PostgreSQL since 0006: alter by hand
    if type_ == "type" and isinstance(obj, EncryptedText):
        return "sa.Text()"
    if type_ == "type" and isinstance(obj, EncryptedJSON):
        return f"sa.JSON(none_as_null={obj.none_as_null})"
    return False


def _configure_options(dialect_name: str) -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "compare_type": True,
        "render_item": _render_item,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        "render_as_batch": dialect_name == "sqlite",
    }


def _run_with(connection: Connection) -> None:
    context.configure(connection=connection, **_configure_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    from sqlalchemy import make_url

    url = _database_url()
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_configure_options(make_url(url).get_backend_name()),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with(connection)
        return
    from arena.storage.db import Database

    database = Database(url=_database_url())  # same pragmas and pool settings as the app
    try:
        with database.engine.begin() as connection:
            _run_with(connection)
    finally:
        database.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
