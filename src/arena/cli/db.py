"""`arena db keygen | rekey`: make an encryption key, and re-encrypt the database under another.

Keys are never printed, except by `keygen` without `--output`, whose whole job is to print one.
``rekey`` opens the database itself rather than through ``ready_database``: it must read with
the old key and write with the new one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from arena.cli._common import console, exit_on_error, load_settings
from arena.errors import EncryptionKeyError

db_app = typer.Typer(help="Database upkeep: encryption keys and re-encryption.", no_args_is_help=True)


@db_app.command()
def keygen(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the key to this new file (mode 0600) instead of printing it"),
    ] = None,
) -> None:
    """Make a new random encryption key (for ARENA_ENCRYPTION_KEY or ARENA_ENCRYPTION_KEY_FILE)."""
    from arena.storage.crypto import key_id, new_key, parse_key, write_key_file

    key = new_key()
    if output is None:
        print(key)  # plain print: nothing but the key, for $(arena db keygen)
        return
    with exit_on_error():
        write_key_file(output, key)
    console.print(
        f"wrote key {key_id(parse_key(key, source='keygen'))} to {output}; use it with ARENA_ENCRYPTION_KEY_FILE={output}",
        highlight=False,
    )


@db_app.command()
def rekey(
    old_key_file: Annotated[
        Path | None, typer.Option("--old-key-file", help="File holding the key the data is encrypted with now")
    ] = None,
    old_key: Annotated[
        str | None,
        typer.Option(
            "--old-key",
            envvar="ARENA_OLD_ENCRYPTION_KEY",
            show_envvar=True,
            help="The key the data is encrypted with now (prefer the variable or --old-key-file: "
            "command lines are visible to other users)",
        ),
    ] = None,
    decrypt: Annotated[
        bool, typer.Option("--decrypt", help="Store everything as plaintext again, instead of under the configured key")
    ] = False,
) -> None:
    """Re-encrypt every prompt, answer, attachment and judge rationale under the configured key.

    Encrypts plaintext rows when encryption is first turned on; moves data from --old-key(-file)
    to the configured key; or, with --decrypt, back to plaintext. One transaction: if it stops
    half-way, the database is as it was. Stop the server first.
    """
    from arena.storage.crypto import Cipher, Keyring, load_key
    from arena.storage.db import Database
    from arena.storage.reencrypt import reencrypt, scrub_sqlite

    settings = load_settings()
    with exit_on_error():
        secret = settings.encryption_key.get_secret_value() if settings.encryption_key is not None else None
        new = load_key(key=secret, key_file=settings.encryption_key_file)
        if old_key is not None and old_key_file is not None:
            raise EncryptionKeyError("give --old-key or --old-key-file, not both")
        old = load_key(key=old_key, key_file=old_key_file)
        if new is None and not decrypt:
            raise EncryptionKeyError(
                "no encryption key is configured: set ARENA_ENCRYPTION_KEY or ARENA_ENCRYPTION_KEY_FILE "
                "(make one with: arena db keygen), or pass --decrypt"
            )
        readers = [Cipher(key) for key in (old, new) if key is not None]
        target = None if decrypt else Cipher(new)  # type: ignore[arg-type]  # new is set unless --decrypt
        database = Database(url=settings.resolved_database_url, keyring=Keyring(write=target, read=readers))
        try:
            database.migrate()  # also proves every stored value opens with these keys
            count = reencrypt(database.engine)
            if database.is_sqlite:
                scrub_sqlite(database.engine)
        finally:
            database.dispose()
    where = "as plaintext" if target is None else f"under key {target.key_id}"
    console.print(f"rewrote {count} values {where}", highlight=False)
    if not database.is_sqlite:
        console.print(
            "PostgreSQL keeps old row versions until it vacuums; run VACUUM FULL on the arena's tables "
            "to drop them now",
            highlight=False,
        )
