"""`arena serve`: the web server, refusing to expose an unauthenticated arena, or one that
answers to any Host name, by accident. `--workers N` runs N processes on one port: the
database is migrated once before they start, and they share their limits through Redis."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from arena.cli._common import EXIT_USAGE, console, errors, load_settings, ready_database
from arena.cli._logging import uvicorn_log_config

if TYPE_CHECKING:
    from fastapi import FastAPI

    from arena.settings import Settings
    from arena.storage.db import Database

# Most worker processes one `arena serve` starts; more hosts scale further (README: team deployment).
MAX_WORKERS = 64


# Click checks these before anything starts: a missing or unreadable file is a usage error.
TLS_FILE = {"exists": True, "file_okay": True, "dir_okay": False, "readable": True, "resolve_path": True}


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (WEB_BIND)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (WEB_PORT)", min=1, max=65535)] = None,
    insecure_no_auth: Annotated[
        bool,
        typer.Option("--insecure-no-auth", help="Serve a non-loopback address with no token (anyone there can use it)"),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            help="Server processes on this port (more than 1 needs ARENA_REDIS_URL, so that they share rate "
            "limits, the generation budget and stop signals)",
            min=1,
            max=MAX_WORKERS,
        ),
    ] = 1,
    ssl_certfile: Annotated[
        Path | None,
        typer.Option(help="Serve https with this certificate (PEM, chain included); needs --ssl-keyfile", **TLS_FILE),
    ] = None,
    ssl_keyfile: Annotated[
        Path | None, typer.Option(help="The certificate's private key (PEM, not encrypted)", **TLS_FILE)
    ] = None,
) -> None:
    """Start the arena web server (http://127.0.0.1:7860 by default)."""
    import uvicorn

    from arena.web.app import SERVER_OPTIONS, create_app
    from arena.web.middleware import is_loopback, is_wildcard

    settings = load_settings(web_bind=host, web_port=port)
    if workers > 1 and settings.redis_url is None:
        _refuse(
            f"refusing to start {workers} workers without ARENA_REDIS_URL: each process would keep its own rate "
            "limits, generation budget and stop handles, allowing more than configured; start redis-server and set "
            "ARENA_REDIS_URL=redis://127.0.0.1:6379/0, or run one worker"
        )
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
    tls = _tls_options(ssl_certfile, ssl_keyfile)
    database = ready_database(settings)
    if settings.auth_mode == "users":
        _warn_without_admin(database)
    scheme = "https" if tls else "http"
    banner = f"Local LLM Arena on {scheme}://{settings.web_bind}:{settings.web_port}  (data: {settings.data_dir})"
    _announce(settings, banner)
    options = {
        "host": settings.web_bind,
        "port": settings.web_port,
        "log_level": settings.log_level or "info",
        "log_config": uvicorn_log_config(settings.log_format),  # json: uvicorn's lines in our format
        **tls,
    }
    if workers == 1:
        uvicorn.run(create_app(settings, database=database), **options, **SERVER_OPTIONS)
        return
    database.dispose()  # migrated once, here; each worker opens its own connections
    _hand_down(settings, workers)
    _announce(settings, f"{workers} worker processes, sharing state through Redis")
    uvicorn.run("arena.cli.serve:worker_app", factory=True, workers=workers, **options, **SERVER_OPTIONS)


def _announce(settings: Settings, message: str) -> None:
    if settings.log_format == "json":  # every line of the output is JSON, for the log stack
        logging.getLogger("arena.cli.serve").info(message)
    else:
        console.print(message)


def worker_app() -> FastAPI:
    """The app of one `--workers` process: settings from the environment `_hand_down` prepared."""
    from arena.web.app import create_app

    return create_app(load_settings())


def _hand_down(settings: Settings, workers: int) -> None:
    """What the command line decided, for the worker processes (they read the environment anew).

    llama.cpp's threads spin, so N processes each using every core would collapse throughput:
    unless ARENA_EMBEDDED_THREADS says otherwise, each worker's embedded engine gets an equal
    share of this host's cores (the engine then divides it among its own running answers)."""
    from arena.engines.embedded import default_thread_budget
    from arena.web.observability.metrics import MULTIPROC_ENV

    os.environ["WEB_BIND"] = settings.web_bind
    os.environ["WEB_PORT"] = str(settings.web_port)
    if settings.embedded_threads is None:
        os.environ["ARENA_EMBEDDED_THREADS"] = str(max(1, default_thread_budget() // workers))
    if not os.environ.get(MULTIPROC_ENV):
        # /metrics must count every worker's requests, whichever worker answers the scrape; one
        # directory per port, so another `arena serve --workers` on this host keeps its own.
        os.environ[MULTIPROC_ENV] = str(_fresh_metrics_dir(settings.data_dir / "metrics" / str(settings.web_port)))


def _fresh_metrics_dir(directory: Path) -> Path:
    """prometheus-client's multiprocess files for this port, emptied: a previous run's counts
    must not carry over (the port is bound by then, so no live server of this port uses them)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    return directory


def _tls_options(certfile: Path | None, keyfile: Path | None) -> dict[str, str]:
    """uvicorn's ssl_certfile/ssl_keyfile, both or neither, loaded once here so that a key that
    does not match, or is not PEM, is one line now rather than a traceback from uvicorn."""
    import ssl

    if certfile is None and keyfile is None:
        return {}
    if certfile is None or keyfile is None:
        _refuse("--ssl-certfile and --ssl-keyfile go together: give both to serve https, or neither")

    def no_password() -> bytes:
        raise _EncryptedKey  # uvicorn would ask for it on the terminal at every start

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile, password=no_password)
    except _EncryptedKey:
        _refuse(
            f"the key {keyfile} is encrypted: give it unencrypted (openssl pkey -in KEY -out PLAIN), readable only by you"
        )
    except ssl.SSLError as exc:
        mismatch = exc.reason == "KEY_VALUES_MISMATCH"
        problem = "the key does not belong to the certificate" if mismatch else f"not a PEM certificate and key ({exc})"
        _refuse(f"cannot serve https with {certfile} and {keyfile}: {problem}")
    return {"ssl_certfile": str(certfile), "ssl_keyfile": str(keyfile)}


class _EncryptedKey(Exception):
    pass


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
