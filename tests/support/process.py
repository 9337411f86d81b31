"""A real `arena serve` in a child process: for kill -9, start-up failures and its log output."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

START_TIMEOUT_S = 60


def free_port() -> int:
    """A port nothing listens on right now (another process could take it, which is rare)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def arena_process(
    data_dir: Path,
    *,
    env: Mapping[str, str] | None = None,
    output: IO[bytes] | None = None,
    args: Sequence[str] = (),
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`python -m arena serve` on a free port with its own data directory, no Ollama; waits for
    /api/health, terminates it on exit. `output` receives its stdout and stderr; `args` are
    more options for `serve`."""
    port = free_port()
    environment = {**os.environ, "ARENA_DATA_DIR": str(data_dir), "OLLAMA_HOST": "http://127.0.0.1:9", **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "arena", "serve", "--port", str(port), *args],
        env=environment,
        stdout=output or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if output else subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, process)
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, "the arena process exited during start-up"
        assert time.monotonic() < deadline, f"the arena did not start within {START_TIMEOUT_S} s"
        time.sleep(0.2)
