"""Several real `arena serve` processes on one database, as a team runs them.

    with Cluster(size=3, directory=tmp_path, env=cluster_env(...), nginx=True) as cluster:
        cluster.urls            # each process directly: http://127.0.0.1:PORT
        cluster.front_url       # nginx over https in front of all of them (or None)
        cluster.kill(0)         # kill -9
        cluster.restart(0)      # SIGTERM (a graceful stop), then start again on the same port
        cluster.rolling_restart()  # each in turn, drained from nginx first

Each process keeps its port across restarts, so nginx's upstream list stays right. Every
process appends its output to `directory/arena-N.log` (`cluster.log(n)`). `prepare_database`
migrates the database once before the processes start (several processes must not race on
it), and `evaluator_tokens` makes evaluator accounts with an API token each.

`double_process` runs the Ollama protocol double in a child process of its own, for the load
bench: its tokens then never wait on the bench's own clients for the GIL.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from arena import accounts
from arena.storage import accounts as account_store
from arena.storage.db import Database
from tests.support.process import START_TIMEOUT_S, free_port

REPOSITORY = Path(__file__).resolve().parents[2]
STOP_TIMEOUT_S = 30
EVALUATOR_PASSWORD = "evaluator password 1"


def cluster_env(
    data_dir: Path,
    *,
    ollama_url: str,
    database_url: str | None = None,
    redis_url: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """The environment of every process: accounts, the double as the only engine, nginx trusted."""
    env = {
        "ARENA_DATA_DIR": str(data_dir),
        "OLLAMA_HOST": ollama_url,
        "ARENA_EMBEDDED": "0",
        "ARENA_AUTH_MODE": "users",
        "ARENA_TRUSTED_PROXIES": "127.0.0.1",
        "ARENA_LOG_LEVEL": "warning",
    }
    if database_url:
        env["DATABASE_URL"] = database_url
    if redis_url:
        env["ARENA_REDIS_URL"] = redis_url
    return env | extra


def database_for(env: Mapping[str, str]) -> Database:
    """The cluster's database, as its processes open it (dispose it when done)."""
    return Database(url=env.get("DATABASE_URL") or f"sqlite:///{Path(env['ARENA_DATA_DIR']) / 'arena.db'}")


def prepare_database(env: Mapping[str, str]) -> None:
    Path(env["ARENA_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    database = database_for(env)
    try:
        database.migrate()
    finally:
        database.dispose()


def evaluator_tokens(env: Mapping[str, str], count: int, *, prefix: str = "evaluator") -> list[str]:
    """`count` evaluator accounts and an API token for each (one password hash for them all:
    hashing is slow on purpose)."""
    database = database_for(env)
    password_hash = accounts.hash_password(EVALUATOR_PASSWORD)
    tokens = []
    try:
        for n in range(count):
            with database.session() as session:
                user = account_store.add_user(
                    session, username=f"{prefix}{n}", password_hash=password_hash, role="evaluator"
                )
                account = accounts.Account.of(user)
            token, _row = accounts.issue_api_token(database, account=account, name="load")
            tokens.append(token)
    finally:
        database.dispose()
    return tokens


class Cluster:
    """`size` arena processes (and optionally nginx before them); see the module docstring."""

    def __init__(self, *, size: int, directory: Path, env: Mapping[str, str], nginx: bool = False) -> None:
        self.directory = directory
        self.env = dict(env)
        self.ports = [free_port() for _ in range(size)]
        self.processes: list[subprocess.Popen[bytes] | None] = [None] * size
        self.use_nginx = nginx
        self.proxy: Any = None  # tests.support.nginx.NginxProxy, imported only when asked for
        self._stack = ExitStack()

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    @property
    def front_url(self) -> str | None:
        return self.proxy.https_url if self.proxy is not None else None

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """httpx's `verify=` for the front (nginx's self-signed certificate)."""
        return ssl.create_default_context(cafile=str(self.proxy.ca_path)) if self.proxy is not None else True

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for index in range(len(self.ports)):  # all at once: their start-ups overlap
            self.start_process(index, wait=False)
        for index in range(len(self.ports)):
            self.wait_until_ready(index)
        if self.use_nginx:
            from tests.support.nginx import NginxProxy

            upstreams = [f"127.0.0.1:{port}" for port in self.ports]
            self.proxy = self._stack.enter_context(NginxProxy(upstreams=upstreams, directory=self.directory / "nginx"))

    def start_process(self, index: int, *, wait: bool = True) -> None:
        assert self.processes[index] is None or self.processes[index].poll() is not None, f"process {index} runs"
        with self.log_path(index).open("ab") as log:
            self.processes[index] = subprocess.Popen(
                [sys.executable, "-m", "arena", "serve", "--port", str(self.ports[index])],
                env={**os.environ, **self.env},
                cwd=self.directory,  # no .env file of the developer's is read
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait:
            self.wait_until_ready(index)

    def wait_until_ready(self, index: int) -> None:
        process = self.processes[index]
        assert process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"{self.urls[index]}/api/health/live", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                raise AssertionError(f"arena process {index} exited during start-up:\n{self.log(index)[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"arena process {index} did not start within {START_TIMEOUT_S} s")
            time.sleep(0.1)

    def pid(self, index: int) -> int:
        process = self.processes[index]
        assert process is not None
        return process.pid

    def kill(self, index: int) -> None:
        """kill -9: no shutdown, no lease released, streams cut."""
        self._end(index, signal.SIGKILL)

    def stop_process(self, index: int) -> None:
        """A graceful stop (SIGTERM), as systemd or a rolling deploy sends."""
        self._end(index, signal.SIGTERM)

    def restart(self, index: int) -> None:
        self.stop_process(index)
        self.start_process(index)

    def rolling_restart(self) -> None:
        """Restart every process in turn. Behind nginx each is drained first: nginx is reloaded
        without it (its answers running there finish), restarted, then put back. Without the
        drain, a request nginx sends on a kept-alive connection the stopping process is closing
        fails with 502, and with nginx's default `max_fails=1 fail_timeout=10s` every process
        restarted within 10 s is taken for dead: "no live upstreams", 502 for everyone."""
        everyone = [f"127.0.0.1:{port}" for port in self.ports]
        for index in range(len(self.ports)):
            if self.proxy is not None:
                self.proxy.reload(upstreams=[u for n, u in enumerate(everyone) if n != index])
                self._wait_for_old_nginx_workers()
            self.restart(index)
        if self.proxy is not None:
            self.proxy.reload(upstreams=everyone)

    def _wait_for_old_nginx_workers(self) -> None:
        """Until the workers of the configuration before a reload have exited: until then a
        request arriving on one of their kept-alive client connections still goes to the old
        upstreams (seen: a 502 from the process being drained)."""
        master = self.proxy.process.pid
        children = Path(f"/proc/{master}/task/{master}/children")
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while len(children.read_text().split()) > self.proxy.workers:
            assert time.monotonic() < deadline, f"nginx's old workers did not exit within {STOP_TIMEOUT_S} s"
            time.sleep(0.05)

    def _end(self, index: int, sig: signal.Signals) -> None:
        process = self.processes[index]
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)
                raise AssertionError(f"arena process {index} ignored {sig.name} for {STOP_TIMEOUT_S} s") from None
        self.processes[index] = None

    def close(self) -> None:
        self._stack.close()
        for index in range(len(self.processes)):
            process = self.processes[index]
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)
            self.processes[index] = None

    def log_path(self, index: int) -> Path:
        return self.directory / f"arena-{index}.log"

    def log(self, index: int) -> str:
        path = self.log_path(index)
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def double_process(**knobs: Any) -> Iterator[str]:
    """The Ollama double (default models) in a child process; `knobs` are its attributes
    (`reply`, `token_delay`, `first_token_delay` …). Yields its URL."""
    process = subprocess.Popen(
        [sys.executable, "-c", "from tests.support.cluster import _run_double; _run_double()", json.dumps(knobs)],
        cwd=REPOSITORY,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPOSITORY), os.environ.get("PYTHONPATH", "")])},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().decode().strip()
        assert url.startswith("http://"), "the Ollama double did not start"
        yield url
    finally:
        assert process.stdin is not None
        process.stdin.close()  # its signal to stop
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _run_double() -> None:
    from tests.support.doubles.ollama import ollama_double

    with ollama_double() as double:
        for name, value in json.loads(sys.argv[1]).items():
            assert hasattr(double, name), f"the Ollama double has no knob {name!r}"
            setattr(double, name, value)
        print(double.url, flush=True)
        sys.stdin.read()  # until the parent closes it (or dies)
