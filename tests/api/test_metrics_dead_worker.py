"""A worker killed with -9 never says it ended: its live gauges (an open stream) must stop
counting anyway, or /metrics shows a stream open for good. Labelled alert counters exist at 0
from the start, so the first alert after a restart moves `increase()`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

HOLD_A_STREAM = """
from arena.web.observability.metrics import ACTIVE_STREAMS
ACTIVE_STREAMS.inc()
print("holding", flush=True)
import time; time.sleep(60)
"""
SCRAPE = """
import sys
from arena.web.observability.metrics import exposition
import arena.web.observability.alerts  # the abuse events' series
sys.stdout.write(exposition().decode())
"""


def _python(code: str, directory: Path, **kwargs: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    return subprocess.Popen([sys.executable, "-c", code], env=env, text=True, stdout=subprocess.PIPE, **kwargs)  # type: ignore[call-overload]


def _scrape(directory: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out, _ = _python(SCRAPE, directory).communicate(timeout=60)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(out)
        for sample in family.samples
    }


@pytest.mark.timeout(120)
def test_a_worker_killed_mid_stream_stops_counting_as_an_open_stream(tmp_path: Path) -> None:
    worker = _python(HOLD_A_STREAM, tmp_path)
    assert worker.stdout is not None and worker.stdout.readline().strip() == "holding"
    assert _scrape(tmp_path)[("arena_active_streams", ())] == 1.0  # alive: its stream counts
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    assert _scrape(tmp_path)[("arena_active_streams", ())] == 0.0


@pytest.mark.timeout(60)
def test_every_abuse_event_is_a_series_at_zero_before_the_first_alert(tmp_path: Path) -> None:
    samples = _scrape(tmp_path)
    for event in ("abuse.login_burst", "abuse.export_burst", "abuse.pull_burst", "abuse.rate_limited"):
        assert samples[("arena_abuse_events_total", (("event", event),))] == 0.0
