"""A team's deployment on this machine: two real `arena serve` processes on one database in
`users` mode, behind the repository's nginx configuration over https, the Ollama double as their
engine. Started once for the package (processes and nginx take seconds), torn down after it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from arena.storage.db import Database
from tests.support.accounts import PASSWORD, create_accounts
from tests.support.doubles.ollama import OllamaDouble, ollama_double
from tests.support.nginx import NginxProxy
from tests.support.process import arena_process

PROXY_ADDRESS = "127.0.0.1"  # nginx reaches the arena processes from here
# A client elsewhere: Linux answers on all of 127.0.0.0/8, so a client bound to this address is
# a peer nginx sees as someone other than itself (and other than a trusted proxy).
OUTSIDE_CLIENT = "127.0.0.2"
MODEL = "ollama:llama3.2:1b"


@dataclass
class Deployment:
    proxy: NginxProxy
    upstreams: list[str]  # the arena processes' own http URLs
    data_dir: Path
    double: OllamaDouble

    def client(self, *, source: str | None = None, base_url: str | None = None) -> httpx.Client:
        """An https client trusting the test's certificate; `source`: the local address it connects from."""
        transport = httpx.HTTPTransport(local_address=source, verify=self.proxy.ssl_context())
        return httpx.Client(base_url=base_url or self.proxy.https_url, transport=transport, timeout=30)

    @contextmanager
    def log_in(self, username: str, *, source: str | None = None) -> Iterator[tuple[httpx.Client, httpx.Response]]:
        """A client logged in as `username` (its cookie, and the CSRF token on every request), and the login's response."""
        with self.client(source=source) as client:
            response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
            assert response.status_code == 200, response.text
            client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
            yield client, response

    @contextmanager
    def database(self) -> Iterator[Database]:
        database = Database(url=f"sqlite:///{self.data_dir / 'arena.db'}")
        try:
            yield database
        finally:
            database.dispose()


@contextmanager
def deployment(
    directory: Path, *, processes: int, trusted_proxies: str | None, double: OllamaDouble
) -> Iterator[Deployment]:
    """`processes` arena processes sharing one SQLite database and data directory, behind nginx."""
    data_dir = directory / "data"
    create_accounts(data_dir)  # migrates first: the processes then start on a ready database
    env = {
        "ARENA_AUTH_MODE": "users",
        "ARENA_EMBEDDED": "false",
        "OLLAMA_HOST": double.url,
        "ARENA_ALLOWED_HOSTS": "localhost,127.0.0.1",
        "ARENA_TRUSTED_PROXIES": trusted_proxies or "",
    }
    with ExitStack() as stack:
        # One after another: each waits for the last to be healthy (migrations are already done).
        upstreams = [stack.enter_context(arena_process(data_dir, env=env))[1] for _ in range(processes)]
        proxy = stack.enter_context(
            NginxProxy(upstreams=[url.removeprefix("http://") for url in upstreams], directory=directory / "nginx")
        )
        yield Deployment(proxy=proxy, upstreams=upstreams, data_dir=data_dir, double=double)


@pytest.fixture(scope="package")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Two processes that believe nginx (ARENA_TRUSTED_PROXIES=127.0.0.1), as the README deploys them."""
    with (
        ollama_double() as double,
        deployment(
            tmp_path_factory.mktemp("team"), processes=2, trusted_proxies=PROXY_ADDRESS, double=double
        ) as running,
    ):
        yield running
