"""`arena serve --workers N`: N processes on one port, sharing state through Redis, never without it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from arena.storage.db import Database
from arena.storage.process_models import ServerProcess
from tests.support.process import arena_process, free_port


def test_several_workers_without_redis_refuse_to_start(tmp_path: Path) -> None:
    environment = {**os.environ, "ARENA_DATA_DIR": str(tmp_path / "data"), "ARENA_EMBEDDED": "0"}
    result = subprocess.run(
        [sys.executable, "-m", "arena", "serve", "--workers", "2", "--port", str(free_port())],
        env=environment, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert "refusing to start 2 workers without ARENA_REDIS_URL" in message


@pytest.mark.timeout(120)
def test_workers_each_hold_a_lease_with_their_own_thread_share(tmp_path: Path, redis_url: str) -> None:
    data_dir = tmp_path / "data"
    environment = {"ARENA_REDIS_URL": redis_url, "ARENA_EMBEDDED": "0"}
    with arena_process(data_dir, env=environment, args=["--workers", "2"]) as (process, url):
        database = Database(url=f"sqlite:///{data_dir / 'arena.db'}")
        try:
            deadline = time.monotonic() + 60
            while True:
                with database.session() as session:
                    pids = {row.pid for row in session.query(ServerProcess).all()}
                if len(pids) == 2 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        finally:
            database.dispose()
        assert len(pids) == 2 and process.pid not in pids  # two workers, not the supervisor
        answered = [httpx.get(f"{url}/api/health/live", timeout=10).status_code for _ in range(10)]
        assert answered == [200] * 10
        # Whichever worker answers a scrape counts every worker's requests (multiprocess metrics).
        for _ in range(4):
            assert _requests_counted(httpx.get(f"{url}/metrics", timeout=10).text, "/api/health/live") == 10
        cores = os.cpu_count() or 1
        for pid in pids:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert f"ARENA_EMBEDDED_THREADS={max(1, cores // 2)}".encode() in environ
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)


def _requests_counted(exposition: str, route: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == "arena_http_requests_total" and sample.labels.get("route") == route
    )


def _is_zombie(pid: int) -> bool:
    return "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_two_worker_groups_on_one_data_directory_keep_their_metrics_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`arena serve --workers N` on two ports with one data directory: each port is its own scrape
    target, so the second group's start must neither empty nor share the first's counts."""
    from arena.cli.serve import _hand_down
    from arena.settings import Settings
    from arena.web.observability.metrics import MULTIPROC_ENV

    # setenv, not delenv: monkeypatch puts back only what it changed, and _hand_down sets all four.
    for handed_down, value in (("WEB_BIND", "127.0.0.1"), ("WEB_PORT", "7861"), ("ARENA_EMBEDDED_THREADS", "1")):
        monkeypatch.setenv(handed_down, value)
    directories = []
    for port in (7861, 7862):
        monkeypatch.setenv(MULTIPROC_ENV, "")  # unset as far as _hand_down is concerned
        _hand_down(Settings(data_dir=tmp_path / "data", web_port=port), 2)
        directory = Path(os.environ[MULTIPROC_ENV])
        if not directories:
            (directory / "counter_1234.db").write_bytes(b"the first group's counts")
        directories.append(directory)
    assert directories[0] != directories[1]
    assert (directories[0] / "counter_1234.db").exists()  # the second start left the first's files
