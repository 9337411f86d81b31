"""The shared fixtures: Ollama doubles and real arenas, started by factories that stop what they start.

Loaded by tests/conftest.py, so every test module can take them. A module's own fixture says
only how its arena or double differs, in one line:

    @pytest.fixture(scope="module")
    def arena(double: OllamaDouble, module_arena_factory: ArenaFactory) -> RunningArena:
        return module_arena_factory(ollama_hosts=[double.url], embedded_enabled=False)

Each factory comes in the two scopes the suite uses: `arena_factory` and `double_factory` for
one test, `module_arena_factory` and `module_double_factory` for a module. What a factory
started is stopped when its scope ends, newest first. A module arena that talks to a double
lists the double before the factory, so the arena stops while the double still answers.

`double` is one running `OllamaDouble` per test; a module or test configures it with
`@pytest.mark.double(library=[...], models=[...])` (the keywords of `ollama_double`). A module
whose arena lives for the whole module needs a double that lives as long, since the arena and the
tests must see the same one: it takes `module_double` under the name its tests use,

    double = module_double  # one double for the whole module

or, to set the double up differently, defines its own module-scoped `double` from
`module_double_factory`. In the same way `arena_database` (the running arena's own database, to
seed and inspect beside it) is taken as `database = arena_database`, and `client` is an HTTP
client on whichever `arena` the module defines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from arena.engines.router import Router
from arena.storage.db import Database
from tests.support.accounts import users_arena
from tests.support.doubles.ollama import OllamaDouble, ollama_double
from tests.support.server import RunningArena, make_settings, running_arena


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "double(**options): options for the `double` fixture (see ollama_double)")


class ArenaFactory:
    """Start real arenas (`make_settings` plus overrides) that stay up until the factory's scope ends."""

    def __init__(self, stack: ExitStack, new_data_dir: Callable[[], Path]) -> None:
        self._stack = stack
        self._new_data_dir = new_data_dir

    def __call__(
        self, *, data_dir: Path | None = None, router: Router | None = None, accounts: bool = False, **overrides: Any
    ) -> RunningArena:
        """`accounts`: `users` mode with one account per role (tests/support/accounts.py);
        `router`: engines of the test's own; `data_dir`: a fresh folder unless given."""
        directory = data_dir if data_dir is not None else self._new_data_dir()
        if accounts:
            return self._stack.enter_context(users_arena(directory, router=router, **overrides))
        return self._stack.enter_context(running_arena(make_settings(directory, **overrides), router=router))


class DoubleFactory:
    """Start Ollama doubles that run until the factory's scope ends."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack

    def __call__(self, double: OllamaDouble | None = None, **options: Any) -> OllamaDouble:
        """Start `double` (a subclass with its own behaviour), or a new one from `ollama_double`'s options."""
        if double is None:
            return self._stack.enter_context(ollama_double(**options))
        double.start()
        self._stack.callback(double.stop)
        return double


def _numbered(parent: Path, name: str) -> Callable[[], Path]:
    """`parent/name`, then `parent/name-2`, ...: the first arena's data lives where tests expect it."""
    count = 0

    def next_dir() -> Path:
        nonlocal count
        count += 1
        return parent / (name if count == 1 else f"{name}-{count}")

    return next_dir


@pytest.fixture
def arena_factory(tmp_path: Path) -> Iterator[ArenaFactory]:
    """Arenas for one test; the first one's data directory is `tmp_path / "data"`."""
    with ExitStack() as stack:
        yield ArenaFactory(stack, _numbered(tmp_path, "data"))


@pytest.fixture(scope="module")
def module_arena_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArenaFactory]:
    """Arenas for one test module, each in a fresh temporary folder."""
    with ExitStack() as stack:
        yield ArenaFactory(stack, lambda: tmp_path_factory.mktemp("arena"))


@pytest.fixture
def double_factory() -> Iterator[DoubleFactory]:
    with ExitStack() as stack:
        yield DoubleFactory(stack)


@pytest.fixture(scope="module")
def module_double_factory() -> Iterator[DoubleFactory]:
    with ExitStack() as stack:
        yield DoubleFactory(stack)


@pytest.fixture
def double(request: pytest.FixtureRequest, double_factory: DoubleFactory) -> OllamaDouble:
    """A running Ollama double for one test, set up by the nearest `@pytest.mark.double(...)`."""
    marker = request.node.get_closest_marker("double")
    return double_factory(**(marker.kwargs if marker else {}))


@pytest.fixture(scope="module")
def module_double(module_double_factory: DoubleFactory) -> OllamaDouble:
    """One running Ollama double for a whole module, with the double's defaults."""
    return module_double_factory()


@pytest.fixture
def arena_database(arena: RunningArena) -> Iterator[Database]:
    """The running arena's own database, for seeding rows and reading what it stored."""
    with arena.database() as db:
        yield db


@pytest.fixture
def client(arena: RunningArena) -> Iterator[httpx.Client]:
    """An HTTP client on the module's (or test's) `arena`."""
    with arena.client() as http:
        yield http
