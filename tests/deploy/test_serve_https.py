"""One box without nginx: `arena serve --ssl-certfile --ssl-keyfile` serves https itself, with the
Secure cookie and HSTS; files that cannot serve https are a one-line usage error before anything
starts (never a traceback from uvicorn, never a password prompt)."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from arena.cli import app
from tests.support.accounts import PASSWORD, create_accounts
from tests.support.nginx import make_certificate
from tests.support.process import START_TIMEOUT_S, free_port

pytestmark = pytest.mark.timeout(90)
runner = CliRunner()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    directory = tmp_path / "tls"
    directory.mkdir()
    return make_certificate(directory)


@contextmanager
def serving_https(data_dir: Path, certificate: Path, key: Path) -> Iterator[str]:
    """The real `arena serve` over https on a free port, in users mode."""
    port = free_port()
    env = {**os.environ, "ARENA_DATA_DIR": str(data_dir), "ARENA_AUTH_MODE": "users", "ARENA_EMBEDDED": "false"}
    command = [sys.executable, "-m", "arena", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--ssl-certfile", str(certificate), "--ssl-keyfile", str(key)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"https://localhost:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                httpx.get(f"{url}/api/health", verify=ssl.create_default_context(cafile=str(certificate)), timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, "arena serve exited during start-up"
                assert time.monotonic() < deadline, "arena serve did not answer over https"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_speaks_https_with_a_secure_cookie_and_hsts(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    create_accounts(tmp_path / "data")
    with serving_https(tmp_path / "data", cert, key) as url:
        trusted = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(base_url=url, verify=trusted) as client:
            response = client.post("/api/auth/login", json={"username": "eve", "password": PASSWORD})
        with pytest.raises(httpx.TransportError):  # plain http to the https port: no answer
            httpx.get(url.replace("https:", "http:") + "/api/health", timeout=5)
    assert response.status_code == 200, response.text
    [cookie] = response.headers.get_list("set-cookie")
    assert "; secure" in cookie.lower() and "; httponly" in cookie.lower()
    assert response.headers["strict-transport-security"].startswith("max-age=")


def usage_error(monkeypatch: pytest.MonkeyPatch, *options: str | Path) -> str:
    """What `arena serve` says for `options`; it must not start a server."""
    served: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: served.append(kwargs))
    result = runner.invoke(app, ["serve", "--port", "1", *map(str, options)], env={"COLUMNS": "200"})
    assert not served and result.exit_code == 2, result.output
    return " ".join(result.output.split())


def test_certificate_and_key_go_together(monkeypatch: pytest.MonkeyPatch, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    for options in (("--ssl-certfile", cert), ("--ssl-keyfile", key)):
        assert "--ssl-certfile and --ssl-keyfile go together" in usage_error(monkeypatch, *options)


def test_files_that_cannot_serve_https_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    missing = usage_error(monkeypatch, "--ssl-certfile", tmp_path / "nope.pem", "--ssl-keyfile", key)
    assert "'--ssl-certfile'" in missing and "does not exist" in missing
    folder = usage_error(monkeypatch, "--ssl-certfile", cert, "--ssl-keyfile", tmp_path)
    assert "'--ssl-keyfile'" in folder and "is a directory" in folder

    other_directory = tmp_path / "other"
    other_directory.mkdir()
    _, other_key = make_certificate(other_directory)
    mismatch = usage_error(monkeypatch, "--ssl-certfile", cert, "--ssl-keyfile", other_key)
    assert "the key does not belong to the certificate" in mismatch
    swapped = usage_error(monkeypatch, "--ssl-certfile", key, "--ssl-keyfile", cert)
    assert "not a PEM certificate and key" in swapped

    encrypted = tmp_path / "encrypted.pem"
    subprocess.run(
        ["openssl", "pkey", "-in", str(key), "-aes256", "-passout", "pass:secret", "-out", str(encrypted)], check=True
    )
    assert f"the key {encrypted} is encrypted" in usage_error(
        monkeypatch, "--ssl-certfile", cert, "--ssl-keyfile", encrypted
    )
