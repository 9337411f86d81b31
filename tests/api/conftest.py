from __future__ import annotations

import pytest

from tests.support.fixtures import ArenaFactory
from tests.support.server import RunningArena

SMOL = "local:smollm2-135m-instruct"


@pytest.fixture(scope="module")
def arena(module_arena_factory: ArenaFactory) -> RunningArena:
    """One real arena (embedded engine, SQLite) per test module."""
    return module_arena_factory()

