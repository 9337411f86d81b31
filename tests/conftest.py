"""Every test runs with its own data directory and a clean environment, never the user's.

The fixtures every folder shares are in tests/support/fixtures.py, loaded here as a plugin."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from arena.settings import Settings

# The shared fixtures: tests/support/fixtures.py (`double`, `arena_factory`, `module_arena_factory`,
# ...) and tests/support/db_fixtures.py (`database` on SQLite and PostgreSQL, `blank_database`, ...).
pytest_plugins = ("tests.support.fixtures", "tests.support.db_fixtures", "tests.support.redis_server")

# Every variable Settings reads (so a new setting is isolated too), and the old-key variable
# that `arena db rekey` reads on its own.
ARENA_VARIABLES = (
    *(
        field.validation_alias
        for field in Settings.model_fields.values()
        if isinstance(field.validation_alias, str)
    ),
    "ARENA_OLD_ENCRYPTION_KEY",
)


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in ARENA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith("ARENA_OPENAI_KEY_")]:
        monkeypatch.delenv(name)
    data_dir = tmp_path / "arena-data"
    monkeypatch.setenv("ARENA_DATA_DIR", str(data_dir))
    # Nothing in a test may reach a real Ollama on this machine: point at a closed port.
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nor the real Hugging Face hub
    monkeypatch.chdir(tmp_path)  # no stray .env from the working tree
    yield data_dir


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
