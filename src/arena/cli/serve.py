"""`arena serve`: the web server, refusing to expose an unauthenticated arena, or one that
answers to any Host name, by accident."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from arena.cli._common import EXIT_USAGE, console, errors, load_settings, ready_database
from arena.cli._logging import uvicorn_log_config

if TYPE_CHECKING:
    from arena.storage.db import Database


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (WEB_BIND)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (WEB_PORT)", min=1, max=65535)] = None,
    insecure_no_auth: Annotated[
        bool,
        typer.Option("--insecure-no-auth", help="Serve a non-loopback address with no token (anyone there can use it)"),
    ] = False,
) -> None:
    """Start the arena web server (http://127.0.0.1:7860 by default)."""
    import uvicorn

    from arena.web.app import SERVER_OPTIONS, create_app
    from arena.web.middleware import is_loopback, is_wildcard

    settings = load_settings(web_bind=host, web_port=port)
    without_auth = not is_loopback(settings.web_bind) and settings.auth_mode == "none"
    if without_auth and not insecure_no_auth:
        _refuse(
            f"refusing to serve {settings.web_bind} without authentication: set ARENA_AUTH_MODE=users (accounts) or "
            "WEB_CHAT_TOKEN, or bind 127.0.0.1, or pass --insecure-no-auth if everyone who can reach it may use it"
        )
    if is_wildcard(settings.web_bind) and not settings.allowed_hosts:
        # Every interface and no names: a DNS-rebinding page could reach it under any name.
        _refuse(
            f"refusing to serve {settings.web_bind} (every interface) without host names: set ARENA_ALLOWED_HOSTS "
            "to the names and addresses clients use (e.g. arena.lan,192.168.1.10), or bind one address with --host"
        )
    if without_auth:
        errors.print(
            f"[bold red]WARNING:[/bold red] serving {settings.web_bind} with NO authentication: "
            "anyone who can reach this address can read every conversation and run every model",
            highlight=False,
        )
    database = ready_database(settings)
    if settings.auth_mode == "users":
        _warn_without_admin(database)
    banner = f"Local LLM Arena on http://{settings.web_bind}:{settings.web_port}  (data: {settings.data_dir})"
    if settings.log_format == "json":  # every line of the output is JSON, for the log stack
        logging.getLogger("arena.cli.serve").info(banner)
    else:
        console.print(banner)
    uvicorn.run(
        create_app(settings, database=database),
        host=settings.web_bind,
        port=settings.web_port,
        log_level=settings.log_level or "info",
        log_config=uvicorn_log_config(settings.log_format),  # json: uvicorn's lines in our format
        **SERVER_OPTIONS,
    )


def _refuse(reason: str) -> NoReturn:
    errors.print(f"[red]error:[/red] {reason}", highlight=False, soft_wrap=True)  # one line, however narrow
    raise typer.Exit(EXIT_USAGE)


def _warn_without_admin(database: Database) -> None:
    from arena import accounts

    if accounts.count_users(database) == 0:
        errors.print(
            "[yellow]No accounts yet:[/yellow] create the first admin with `arena user add NAME --role admin`",
            highlight=False,
        )
