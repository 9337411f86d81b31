from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.server import RunningArena, make_settings, running_arena

SMOL = "local:smollm2-135m-instruct"


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningArena]:
    """One real arena (embedded engine, SQLite) per test module."""
    with running_arena(make_settings(tmp_path_factory.mktemp("arena"))) as running:
        yield running
