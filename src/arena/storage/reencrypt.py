"""Every encrypted column at once: check the key opens them, rewrite them under another key.

Both work through the column types themselves (``encrypted_types.py``) with the keyring on
the engine, so they read and write exactly as the rest of the arena does, on either backend.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Column, Engine, Table, Text, bindparam, cast, select, update

from arena.storage.crypto import PREFIX
from arena.storage.encrypted_types import EncryptedJSON, EncryptedText
from arena.storage.schema import metadata

BATCH_ROWS: Final = 500


def encrypted_columns() -> list[tuple[Table, list[Column[Any]]]]:
    """Each table with encrypted columns, and those columns, in dependency order."""
    found = []
    for table in metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, (EncryptedText, EncryptedJSON))]
        if columns:
            found.append((table, columns))
    return found


def check_keys(engine: Engine) -> None:
    """Raise EncryptionKeyError if stored values are encrypted with a key the engine lacks.

    One encrypted value per column is enough: `rekey` rewrites every value in one transaction,
    and the server refuses to start with a wrong key, so one database never mixes keys. Reading
    only the first keeps start-up fast however large the history grows.
    """
    with engine.connect() as connection:
        for _table, columns in encrypted_columns():
            for column in columns:
                raw = cast(column, Text)  # a JSON document's text holds its ciphertext in quotes
                # Decrypting on read raises for a foreign key (or for no key at all); plaintext
                # that merely mentions the prefix reads as it is.
                connection.execute(select(column).where(raw.like(f"%{PREFIX}%")).limit(1)).all()


def reencrypt(engine: Engine) -> int:
    """Read every encrypted value with the engine's keyring and write it back under the
    keyring's write key (None: plaintext), all in one transaction; returns how many values."""
    rewritten = 0
    with engine.begin() as connection:
        for table, columns in encrypted_columns():
            [key] = table.primary_key.columns
            statement = (
                update(table)
                .where(key == bindparam("row_key", type_=key.type))
                .values({c.name: bindparam(f"new_{c.name}", type_=c.type) for c in columns})
            )
            last: Any = None
            while True:
                page = select(key, *columns).order_by(key).limit(BATCH_ROWS)
                rows = connection.execute(page if last is None else page.where(key > last)).all()
                if not rows:
                    break
                connection.execute(
                    statement,
                    [{"row_key": row[0], **{f"new_{c.name}": row[i + 1] for i, c in enumerate(columns)}} for row in rows],
                )
                rewritten += sum(value is not None for row in rows for value in row[1:])
                last = rows[-1][0]
    return rewritten


def scrub_sqlite(engine: Engine) -> None:
    """Rebuild a SQLite file and empty its WAL, so pages with the old values are gone from both."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM")
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
