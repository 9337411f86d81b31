"""`arena`: serve the arena, list, pull and remove models. Exit codes are chosen here."""

from __future__ import annotations

import asyncio
import sys
from contextlib import aclosing
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from arena.errors import ArenaError, EncryptionKeyError, InvalidInput, NotFound
from arena.settings import Settings, describe_validation_error

if TYPE_CHECKING:
    from arena.storage.db import Database

app = typer.Typer(help="Local LLM Arena: compare language models privately, on your own machine.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)

# One place for exit codes: 1 = the operation failed, 2 = bad configuration or input.
EXIT_FAILED = 1
EXIT_USAGE = 2


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; a wrong value stops here with one clear line."""
    try:
        settings = Settings()
        return settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        errors.print(f"[red]error:[/red] invalid configuration: {describe_validation_error(exc)}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None


def fail(exc: ArenaError) -> typer.Exit:
    errors.print(f"[red]error:[/red] {exc}", highlight=False)
    return typer.Exit(EXIT_USAGE if isinstance(exc, (InvalidInput, NotFound, EncryptionKeyError)) else EXIT_FAILED)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (WEB_BIND)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (WEB_PORT)", min=1, max=65535)] = None,
    insecure_no_auth: Annotated[
        bool, typer.Option("--insecure-no-auth", help="Serve a non-loopback address with no token (anyone there can use it)")
    ] = False,
) -> None:
    """Start the arena web server (http://127.0.0.1:7860 by default)."""
    import uvicorn

    from arena.web.app import create_app
    from arena.web.middleware import is_loopback

    settings = load_settings(web_bind=host, web_port=port)
    if not is_loopback(settings.web_bind) and settings.auth_mode == "none":
        if not insecure_no_auth:
            errors.print(
                f"[red]error:[/red] refusing to serve {settings.web_bind} without authentication: set "
                "ARENA_AUTH_MODE=users (accounts) or WEB_CHAT_TOKEN, or bind 127.0.0.1, or pass --insecure-no-auth "
                "if everyone who can reach it may use it",
                highlight=False,
            )
            raise typer.Exit(EXIT_USAGE)
        errors.print(
            f"[bold red]WARNING:[/bold red] serving {settings.web_bind} with NO authentication: "
            "anyone who can reach this address can read every conversation and run every model",
            highlight=False,
        )
    database = ready_database(settings)
    if settings.auth_mode == "users":
        _warn_without_admin(database)
    console.print(f"Local LLM Arena on http://{settings.web_bind}:{settings.web_port}  (data: {settings.data_dir})")
    uvicorn.run(create_app(settings, database=database), host=settings.web_bind, port=settings.web_port, log_level="info")


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


def _warn_without_admin(database: Database) -> None:
    from arena import accounts

    if accounts.count_users(database) == 0:
        errors.print(
            "[yellow]No accounts yet:[/yellow] create the first admin with `arena user add NAME --role admin`",
            highlight=False,
        )


def os_user() -> str:
    """Who ran a command, for the audit log."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user with no passwd entry
        return "local"


@app.command()
def models() -> None:
    """List every engine's models, and which engines answer."""
    from arena.engines.factory import build_router

    async def survey() -> None:
        router = build_router(load_settings())
        try:
            inventory = await router.inventory()
        finally:
            await router.aclose()
        table = Table("model", "engine", "size", "family", "parameters", "quantization")
        for m in inventory.models:
            size = f"{m.size / 1e6:,.0f} MB" if m.size else ""
            table.add_row(m.id, m.engine, size, m.family or "", m.parameter_size or "", m.quantization or "")
        console.print(table)
        for h in inventory.health:
            state = "[green]up[/green]" if h.reachable else f"[yellow]down[/yellow] {h.detail}"
            console.print(f"{h.engine} {h.endpoint}: {state}", highlight=False)

    asyncio.run(survey())


@app.command()
def pull(name: Annotated[str, typer.Argument(help="Model to pull, e.g. llama3.2:3b or ollama:llama3.2:3b")]) -> None:
    """Pull a model into Ollama, with a progress bar."""
    from arena.engines.factory import build_router

    model_id = name if name.startswith("ollama:") else f"ollama:{name}"

    async def run() -> None:
        router = build_router(load_settings())
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
        try:
            with Progress(*columns, console=console) as progress:
                task = progress.add_task("starting", total=None)
                async with aclosing(router.pull(model_id)) as updates:
                    async for update in updates:
                        progress.update(task, description=update.status, completed=update.completed or 0, total=update.total)
        finally:
            await router.aclose()

    try:
        asyncio.run(run())
    except ArenaError as exc:
        raise fail(exc) from None
    console.print(f"pulled {name}")


@app.command()
def rm(name: Annotated[str, typer.Argument(help="Model to delete, e.g. llama3.2:3b")]) -> None:
    """Delete a model from Ollama."""
    from arena.engines.factory import build_router

    model_id = name if name.startswith("ollama:") else f"ollama:{name}"

    async def run() -> None:
        router = build_router(load_settings())
        try:
            await router.delete(model_id)
        finally:
            await router.aclose()

    try:
        asyncio.run(run())
    except ArenaError as exc:
        raise fail(exc) from None
    console.print(f"deleted {name}")


def _register_evaluation_commands() -> None:
    """`arena leaderboard` and `arena bench …` live in their own modules; they import helpers from here."""
    from arena.cli.bench import bench_app
    from arena.cli.db import db_app
    from arena.cli.leaderboard import leaderboard

    app.command("leaderboard")(leaderboard)
    app.add_typer(bench_app, name="bench")
    app.add_typer(db_app, name="db")
    from arena.cli.audit import audit_app

    app.add_typer(audit_app, name="audit")
    from arena.cli.user import user_app

    app.add_typer(user_app, name="user")


_register_evaluation_commands()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)

