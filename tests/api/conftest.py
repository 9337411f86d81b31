"""The api folder's one arena: the embedded engine on SQLite, shared by a module's tests."""

from __future__ import annotations

import pytest

from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena


@pytest.fixture(scope="module")
def arena(module_arena_factory: ArenaFactory) -> RunningArena:
    """One real arena (embedded engine, SQLite) per test module."""
    return module_arena_factory()

