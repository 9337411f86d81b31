"""A real redis-server (Debian's package) on a free loopback port, for the shared-state tests.

`redis_url` is session-scoped (one server for the run, each test on its own database number
via `redis_db_url`, flushed first); `RedisServer` can be stopped and started again on the same
port, for the fault tests."""

from __future__ import annotations

import itertools
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.process import free_port

START_TIMEOUT_S = 10


class RedisServer:
    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (apt-get install redis-server; .ci/run installs it)")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            assert self.process.poll() is None, "redis-server exited during start-up"
            assert time.monotonic() < deadline, f"redis-server did not start within {START_TIMEOUT_S} s"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


_database_numbers = itertools.cycle(range(1, 16))  # 0 is left to tests that start their own server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A Redis URL for one test: the next database number (1–15, in turn), flushed first."""
    number = next(_database_numbers)
    url = f"redis://127.0.0.1:{redis_server.port}/{number}"
    with socket.create_connection(("127.0.0.1", redis_server.port), timeout=2) as sock:
        sock.sendall(f"SELECT {number}\r\nFLUSHDB\r\n".encode())
        time.sleep(0.05)
        sock.recv(64)
    return url
