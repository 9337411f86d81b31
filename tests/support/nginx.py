"""A real nginx (Debian's package) over https in front of arena processes, configured by the
repository's own deploy/nginx/arena.conf: what a team deploys is what the tests run.

    from tests.support.nginx import NginxProxy

    with NginxProxy(upstreams=["127.0.0.1:7861", "127.0.0.1:7862"], directory=tmp_path / "nginx") as proxy:
        httpx.get(f"{proxy.https_url}/api/health", verify=proxy.ssl_context())
        proxy.http_url          # plain http: answers only with a redirect to https_url
        proxy.access_log_path   # one line a request: client, upstream, status, times (see LOG_FORMAT)
        proxy.reload(upstreams=[...])  # a new upstream list, without dropping open connections

`NginxProxy` makes a self-signed certificate with `openssl` (CN localhost, SAN localhost and
127.0.0.1; `ssl_context()` trusts it, for httpx's `verify=`, and `ca_path` is the file), renders
arena.conf with free loopback ports and `upstreams` (host:port, or a `server` line's parameters
too, such as "127.0.0.1:7861 max_fails=0"), wraps it in a main configuration whose pid, logs and
temp directories all lie in `directory`, and runs `nginx -c … -g 'daemon off; …'` as a child
until the context exits (or `stop()`). `https_url` is https://localhost:PORT (the certificate's
name), `https_ip_url` the same by address; nginx's own 413/502/504 answers are JSON.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import ssl
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx
import pytest

from tests.support.process import free_port

REPOSITORY = Path(__file__).resolve().parents[2]
CONFIG_TEMPLATE = REPOSITORY / "deploy" / "nginx" / "arena.conf"
START_TIMEOUT_S = 15
STOP_TIMEOUT_S = 10
PLACEHOLDER = re.compile(r"\$\{(ARENA_[A-Z0-9_]+)\}")
# What the access log records, for tests and bench/load.py to read: who nginx saw, which
# process answered, and how long the upstream took to its first byte and to the end.
LOG_FORMAT = (
    '$remote_addr "$request" $status upstream=$upstream_addr '
    "upstream_status=$upstream_status header_time=$upstream_header_time response_time=$upstream_response_time"
)


def render(template: str, values: Mapping[str, str]) -> str:
    """`template` with each `${ARENA_…}` replaced, as `envsubst '${ARENA_…} …'` does; nginx's own
    `$variables` stay. A placeholder without a value, or a value for no placeholder, is an error:
    the file and this code must not drift apart silently."""
    wanted = set(PLACEHOLDER.findall(template))
    if missing := wanted - values.keys():
        raise KeyError(f"no value for {sorted(missing)} in {CONFIG_TEMPLATE}")
    if unused := values.keys() - wanted:
        raise KeyError(f"{sorted(unused)} are not placeholders in {CONFIG_TEMPLATE}")
    return PLACEHOLDER.sub(lambda match: values[match[1]], template)


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate (it is its own CA) for localhost and 127.0.0.1, and its key."""
    certificate, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True,
    )  # fmt: skip
    return certificate, key


class NginxProxy:
    """nginx on free loopback ports, TLS with a fresh certificate, load-balancing `upstreams`."""

    def __init__(self, *, upstreams: Sequence[str], directory: Path, workers: int = 1) -> None:
        self.directory = directory
        self.upstreams = list(upstreams)
        self.workers = workers
        self.http_port = free_port()
        self.https_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self.ca_path, self.key_path = directory / "cert.pem", directory / "key.pem"

    @property
    def https_url(self) -> str:
        return f"https://localhost:{self.https_port}"

    @property
    def https_ip_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this proxy's certificate (and nothing else)."""
        return ssl.create_default_context(cafile=str(self.ca_path))

    @property
    def access_log_path(self) -> Path:
        return self.directory / "access.log"

    @property
    def error_log_path(self) -> Path:
        return self.directory / "error.log"

    @property
    def main_config_path(self) -> Path:
        return self.directory / "nginx.conf"

    def __enter__(self) -> NginxProxy:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if binary is None:
            pytest.fail("nginx is not installed (apt-get install nginx; .ci/run installs it)")
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.ca_path.exists():
            make_certificate(self.directory)
        self._write_config()
        self._stderr = (self.directory / "stderr.log").open("ab")  # what nginx says before its error log opens
        self.process = subprocess.Popen(
            [binary, "-p", str(self.directory), "-c", str(self.main_config_path),
             "-g", f"daemon off; pid {self.directory / 'nginx.pid'}; error_log {self.error_log_path} notice;"],
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
        )  # fmt: skip
        self._wait_until_answering()

    def stop(self) -> None:
        """Fast shutdown (SIGTERM): open connections are closed, as when nginx is stopped."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_S)
        self.process = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def reload(self, *, upstreams: Sequence[str]) -> None:
        """Point nginx at other upstreams (SIGHUP): new workers take new requests, old ones finish
        theirs. Returns once the new workers have started."""
        assert self.process is not None and self.process.poll() is None, "nginx is not running"
        self.upstreams = list(upstreams)
        self._write_config()
        started = self._worker_starts()
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + START_TIMEOUT_S
        while self._worker_starts() < started + self.workers:
            assert time.monotonic() < deadline, f"nginx did not reload:\n{self._error_log_tail()}"
            time.sleep(0.05)

    def _write_config(self) -> None:
        site = render(
            CONFIG_TEMPLATE.read_text(),
            {
                "ARENA_SERVER_NAME": "localhost",
                "ARENA_LISTEN_ADDRESS": "127.0.0.1",
                "ARENA_HTTP_PORT": str(self.http_port),
                "ARENA_HTTPS_PORT": str(self.https_port),
                "ARENA_SSL_CERTIFICATE": str(self.ca_path),
                "ARENA_SSL_CERTIFICATE_KEY": str(self.key_path),
                "ARENA_UPSTREAMS": " ".join(f"server {upstream};" for upstream in self.upstreams),
            },
        )
        (self.directory / "arena.conf").write_text(site)
        temp = self.directory / "temp"
        temp.mkdir(exist_ok=True)  # nginx makes the directories in it, not it
        # As root, nginx's workers would run as nobody, who cannot enter pytest's 0700 temp dirs.
        user = "user root root;\n" if os.geteuid() == 0 else ""
        self.main_config_path.write_text(
            f"{user}worker_processes {self.workers};\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            + "".join(f"    {kind}_temp_path {temp / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
            + f"    log_format arena '{LOG_FORMAT}';\n"
            f"    access_log {self.access_log_path} arena;\n"
            f"    include {self.directory / 'arena.conf'};\n"
            "}\n"
        )  # fmt: skip

    def _wait_until_answering(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                # Any answer will do (a 502 too, before the upstreams are up): nginx speaks TLS.
                httpx.get(f"{self.https_url}/", verify=self.ssl_context(), timeout=2)
                return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                pytest.fail(f"nginx exited during start-up:\n{self._error_log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"nginx did not answer within {START_TIMEOUT_S} s:\n{self._error_log_tail()}")
            time.sleep(0.05)

    def _worker_starts(self) -> int:
        if not self.error_log_path.exists():
            return 0
        return self.error_log_path.read_text(errors="replace").count("start worker process ")

    def _error_log_tail(self) -> str:
        lines = [
            line
            for path in (self.directory / "stderr.log", self.error_log_path)
            if path.exists()
            for line in path.read_text(errors="replace").splitlines()
        ]
        return "\n".join(lines[-20:]) or "(nothing logged)"
