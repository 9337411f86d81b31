"""A PostgreSQL cluster of the test's own, to stop and start under load.

The shared test server (ARENA_TEST_POSTGRES_URL) must never be restarted: other tests use it.
`OwnPostgres` runs `initdb` and `pg_ctl` from Debian's postgresql package into a fresh
directory on a free loopback port (as user postgres when the tests run as root), with a
superuser `arena` trusted on loopback and durability off (it lives for one test).

    with OwnPostgres() as postgres:
        url = postgres.url           # postgresql+psycopg://arena@127.0.0.1:PORT/postgres
        postgres.stop(); postgres.start()
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

import pytest

from tests.support.process import free_port

TIMEOUT_S = 30


def _binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        pytest.fail(f"{name} is not installed (apt-get install postgresql; .ci/run installs it)")
    return found


class OwnPostgres:
    def __init__(self) -> None:
        self.port = free_port()
        # Not under pytest's 0700 temp directories: user postgres must reach it.
        self.directory = Path(tempfile.mkdtemp(prefix="arena-own-pg-"))
        self._as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as_postgres:
            shutil.chown(self.directory, user="postgres")
        self.data = self.directory / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://arena@127.0.0.1:{self.port}/postgres"

    def __enter__(self) -> OwnPostgres:
        self._run(_binary("initdb"), "-D", str(self.data), "-U", "arena", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        try:
            self.stop(mode="immediate")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            _binary("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.directory / "log"), "-w", "start"
        )

    def stop(self, *, mode: str = "fast") -> None:
        """`fast` ends every connection at once, as a restart of the server does."""
        if (self.data / "postmaster.pid").exists():
            self._run(_binary("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def _run(self, *command: str) -> None:
        done = subprocess.run([*self._as_postgres, *command], capture_output=True, timeout=TIMEOUT_S, check=False)
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(command[:2])} failed: {done.stderr.decode(errors='replace')[-2000:]}")
