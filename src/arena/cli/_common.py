"""What every `arena` command shares: the consoles, the exit codes, settings, the database.

The command modules import from here, never from ``arena.cli`` itself, which only builds the
Typer app out of them; so no module needs another that is still loading.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError
from rich.console import Console

from arena.cli._logging import configure_logging
from arena.errors import ArenaError, EncryptionKeyError, InvalidInput, NotFound
from arena.settings import Settings, describe_validation_error

if TYPE_CHECKING:
    from arena.storage.db import Database

console = Console()
errors = Console(stderr=True)

# One place for exit codes: 1 = the operation failed, 2 = bad configuration or input.
EXIT_FAILED = 1
EXIT_USAGE = 2


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (ARENA_LOG_LEVEL and ARENA_LOG_FORMAT applied); a wrong value stops here with one clear line."""
    try:
        settings = Settings()
    except ValidationError as exc:
        errors.print(f"[red]error:[/red] invalid configuration: {describe_validation_error(exc)}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    configure_logging(settings.log_level, settings.log_format)
    return settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})


def fail(exc: ArenaError) -> typer.Exit:
    """Print the error in one line; the exit to raise says whether the input or the operation was at fault."""
    errors.print(f"[red]error:[/red] {exc}", highlight=False)
    return typer.Exit(EXIT_USAGE if isinstance(exc, (InvalidInput, NotFound, EncryptionKeyError)) else EXIT_FAILED)


@contextmanager
def exit_on_error() -> Iterator[None]:
    """An ArenaError inside the block ends the command the way `fail` says, with no traceback."""
    try:
        yield
    except ArenaError as exc:
        raise fail(exc) from None


def ready_database(settings: Settings) -> Database:
    """The migrated database, opened with the encryption key if one is set; a bad or wrong key
    stops here with one clear line. Every command that touches the database opens it here."""
    from arena.storage.db import Database

    try:
        database = Database.for_settings(settings)
        database.migrate()  # also checks the key opens what is stored
    except ArenaError as exc:
        raise fail(exc) from None
    return database


@contextmanager
def opened_database(settings: Settings | None = None) -> Iterator[Database]:
    """`ready_database` for the length of a block, disposed of after it."""
    database = ready_database(settings if settings is not None else load_settings())
    try:
        yield database
    finally:
        database.dispose()


def os_user() -> str:
    """Who ran a command, for the audit log."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user with no passwd entry
        return "local"
