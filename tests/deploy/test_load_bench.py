"""bench/load.py at a small size: 3 processes behind nginx on PostgreSQL and Redis, several
evaluators streaming at once: not one error, not one turn lost or stored differently."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.load import print_reports, run_bench
from tests.support.db_fixtures import postgres_url


@pytest.mark.postgres
@pytest.mark.timeout(150)
def test_small_load_has_no_errors_and_loses_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    postgres_url()  # skips (fails under CI) without a PostgreSQL, like every PostgreSQL test
    [report] = run_bench([4], 2, directory=tmp_path)
    print_reports([report])
    assert report.errors == {}, capsys.readouterr().out
    assert report.lost == []
    assert len(report.turns) == 4 * 3  # a warm-up and 2 timed turns each, all accepted
    assert all(t.accepted and t.ended for t in report.turns)
    assert len(report.overhead_s) == 4 * 2
    assert report.health_s, "readiness was probed during the load"
