"""`arena audit …`: check the audit log's signed hash chain and export it.

Registered by ``arena.cli`` as ``arena audit``. Exit codes (their values live in
``arena.cli._common``): ``verify`` exits 0 when the chain is intact and 1 naming the first bad
entry, so a cron job or CI notices; 2 for bad input, or when the audit key file is missing and
only the unsigned part (entries from before the log was keyed) could be checked.
``verify`` never makes an audit key: a missing one is reported, not replaced.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from arena.cli._common import (
    EXIT_FAILED,
    EXIT_USAGE,
    console,
    errors,
    exit_on_error,
    load_settings,
    opened_database,
    os_user,
)

audit_app = typer.Typer(help="The tamper-evident audit log: verify its hash chain, export it.", no_args_is_help=True)

CHECKPOINT = re.compile(r"^(?P<id>[1-9][0-9]{0,18}):(?P<hash>[0-9a-f]{64})$")


def _checkpoint(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    match = CHECKPOINT.match(value.strip().lower())
    if match is None:
        raise typer.BadParameter("expected ID:HASH, e.g. 42:<64 hex digits> as printed by an earlier verify")
    return int(match["id"]), match["hash"]


@audit_app.command("verify")
def verify(
    checkpoint: Annotated[
        str | None,
        typer.Option(
            help="ID:HASH of an entry noted earlier (printed by verify); it must still be there, "
            "which also catches the newest entries cut off the end"
        ),
    ] = None,
) -> None:
    """Walk the hash chain with the audit key; exit 1 naming the first edited, replaced or deleted entry."""
    from arena.storage import audit
    from arena.storage.audit_key import read_key_file
    from arena.storage.db import Database

    expected = _checkpoint(checkpoint)
    settings = load_settings()
    key_file = settings.resolved_audit_key_file.expanduser()
    with exit_on_error():
        key = read_key_file(key_file) if key_file.exists() else None
        database = Database.for_settings(settings, sign_audit=False)  # reads the log, never makes a key
        try:
            database.migrate()
            with database.session() as session:
                result = audit.verify(session, checkpoint=expected, key=key)
        finally:
            database.dispose()
    if not result.ok:
        errors.print(f"[red]error:[/red] {result.message}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_FAILED)
    if result.unchecked:
        errors.print(
            f"[red]error:[/red] {result.message}; no audit key file at {key_file}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(EXIT_USAGE)
    console.print(f"audit log intact: {result.entries} entries", highlight=False)
    if result.last_id is not None:
        console.print(f"checkpoint: {result.last_id}:{result.last_hash}", highlight=False, soft_wrap=True)


@audit_app.command("export")
def export(
    format: Annotated[Literal["jsonl", "csv"], typer.Option("--format", help="jsonl (verifiable) or csv")] = "jsonl",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of standard output")] = None,
) -> None:
    """Write every entry, oldest first, as JSON Lines or CSV; the export is recorded (and included)."""
    from arena.storage import audit
    from arena.storage.audit_export import export_lines
    from arena.storage.private_files import open_private

    with opened_database() as database:
        detail = {"format": format, "via": "cli"}
        audit.record(database, actor_id=None, actor=os_user(), action=audit.AUDIT_EXPORT, detail=detail)
        if output is None:
            sys.stdout.writelines(export_lines(database, format))
            sys.stdout.flush()
        else:
            # Written beside the target and renamed, so a failed export never leaves half a file.
            partial = output.with_name(f".{output.name}.partial")
            try:
                with open_private(partial) as handle:  # 0600: the log names users and addresses
                    handle.writelines(export_lines(database, format))
                partial.replace(output)
            except OSError as exc:
                partial.unlink(missing_ok=True)
                errors.print(f"[red]error:[/red] cannot write {output}: {exc.strerror}", highlight=False)
                raise typer.Exit(EXIT_USAGE) from None
            errors.print(f"wrote {output}", highlight=False)
