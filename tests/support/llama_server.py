"""A real `python -m llama_cpp.server` serving SmolLM2, for tests that need an OpenAI-compatible server.

    with llama_server() as server:
        engine = OpenAIEngine(name="llama", base_url=server.base_url)

Start it once per test module (a fixture with scope="module"): loading the model takes a
few seconds on two cores.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from arena.engines.catalog import SMOLLM2_NAME, smollm2_gguf_path
from tests.support.process import free_port

STARTUP_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True, kw_only=True)
class LlamaServer:
    base_url: str  # includes /v1
    model: str  # the alias the server lists under /v1/models
    api_key: str | None
    process: subprocess.Popen[bytes]


@contextmanager
def llama_server(
    *,
    model_path: Path | None = None,
    model_alias: str = SMOLLM2_NAME,
    api_key: str | None = None,
    n_ctx: int = 2048,
    startup_timeout: float = STARTUP_TIMEOUT_S,
) -> Iterator[LlamaServer]:
    """Start the server on a free port, wait until `/v1/models` answers, stop it on exit."""
    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model_path or smollm2_gguf_path()),
        "--model_alias", model_alias,  # otherwise the model's id is its file path
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(n_ctx),
        "--verbose", "False",
    ]  # fmt: skip
    if api_key is not None:
        command += ["--api_key", api_key]
    base_url = f"http://127.0.0.1:{port}/v1"
    # A file, not a pipe: nobody reads the server's output while it runs, and a full pipe
    # would block it.
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            _wait_until_ready(process, base_url, api_key, startup_timeout, output)
            yield LlamaServer(base_url=base_url, model=model_alias, api_key=api_key, process=process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_ready(
    process: subprocess.Popen[bytes], base_url: str, api_key: str | None, timeout: float, output: IO[bytes]
) -> None:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {process.returncode}: {_tail(output)}")
        try:
            if httpx.get(f"{base_url}/models", headers=headers, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass  # not listening yet
        time.sleep(0.2)
    raise RuntimeError(f"llama_cpp.server did not answer within {timeout} s: {_tail(output)}")


def _tail(output: IO[bytes]) -> str:
    output.seek(0)
    return output.read().decode("utf-8", errors="replace")[-2000:]
