"""Two server processes' worth of arena (two `create_app`, each under its own uvicorn) on one
database and one Redis, as several `arena serve` share them in a team deployment."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from tests.support.accounts import create_accounts
from tests.support.faults import ServedArena, serve_arena, settings_for


@contextmanager
def two_arenas(
    data_dir: Path, *, double_url: str, redis_url: str | None, accounts: bool = False, **overrides: Any
) -> Iterator[tuple[ServedArena, ServedArena]]:
    """Arenas A and B: one SQLite file (one data directory), one Redis, the Ollama double as
    their only engine. `accounts`: users mode with tests/support/accounts.py's accounts."""
    if accounts:
        overrides["auth_mode_setting"] = "users"
    settings = settings_for(data_dir, None, double_url, redis_url=redis_url, **overrides)
    if accounts:
        create_accounts(data_dir)
    with ExitStack() as stack:
        first = stack.enter_context(serve_arena(settings))
        second = stack.enter_context(serve_arena(settings))
        yield first, second
