"""Login throttling over HTTP, from many client addresses: guessing slows down, the owner is
never locked out. (The counting rules one by one: tests/storage/test_login_attempts.py.)"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from arena import accounts
from arena.web.app import SERVER_OPTIONS, create_app
from arena.web.auth.throttle import LoginThrottle
from tests.support.accounts import PASSWORD, create_accounts
from tests.support.db_fixtures import DATABASE_PARAMS, make_database
from tests.support.server import make_settings

BASE_URL = "http://127.0.0.1:7860"
WRONG = "not the password"


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@contextmanager
def users_app(tmp_path: Path, *, clock: Clock | None = None, **overrides: Any) -> Iterator[FastAPI]:
    """The real app with the four test accounts; the per-address rate limit is off, so only the
    throttle answers 429. With a clock, the throttle's time is the test's."""
    settings = make_settings(
        tmp_path / "data", auth_mode_setting="users", embedded_enabled=False, rate_limit_login="off", **overrides
    )
    create_accounts(settings.data_dir, settings.database_url)
    app = create_app(settings)
    with TestClient(app, base_url=BASE_URL):  # runs the lifespan once, for every address below
        if clock is not None:
            app.state.login_throttle = LoginThrottle.from_settings(settings, app.state.database, clock=clock)
        yield app


def login_from(app: FastAPI, ip: str, username: str, password: str = PASSWORD) -> httpx.Response:
    client = TestClient(app, base_url=BASE_URL, client=(ip, 50000))
    return client.post("/api/auth/login", json={"username": username, "password": password})


def test_wrong_passwords_from_one_address_do_not_keep_the_owner_out_of_another(tmp_path: Path) -> None:
    with users_app(tmp_path) as app:
        statuses = [login_from(app, "10.0.0.66", "ada", WRONG).status_code for _ in range(6)]
        assert statuses[:5] == [401] * 5 and set(statuses) <= {401, 429}
        # Before: the account itself was locked, and the admin got 429 with the right password.
        owner = login_from(app, "10.0.0.7", "ada")
        assert owner.status_code == 200, owner.text


def test_the_owner_at_an_address_it_logged_in_from_gets_in_while_many_others_guess(tmp_path: Path) -> None:
    with users_app(tmp_path) as app:
        assert login_from(app, "10.0.0.7", "ada").status_code == 200  # the owner's usual address
        statuses = [login_from(app, f"10.9.{n % 15}.1", "ada", WRONG).status_code for n in range(30)]
        assert set(statuses) <= {401, 429} and statuses.count(401) >= 10  # enough to slow the account
        assert login_from(app, "10.0.0.7", "ada").status_code == 200  # at once, whatever the others did


def test_one_address_guessing_one_account_waits_longer_each_time(tmp_path: Path) -> None:
    clock = Clock()
    with users_app(tmp_path, clock=clock, login_max_failures=3, login_max_delay_seconds=16) as app:
        assert [login_from(app, "10.0.0.66", "eve", WRONG).status_code for _ in range(3)] == [401] * 3
        waits = []
        for _ in range(7):
            refused = login_from(app, "10.0.0.66", "eve")  # even the right password is not checked yet
            assert refused.status_code == 429
            assert "for this account from this address" in refused.json()["error"]
            waits.append(int(refused.headers["Retry-After"]))
            clock.advance(waits[-1])
            assert login_from(app, "10.0.0.66", "eve", WRONG).status_code == 401  # checked again, and wrong
        assert waits == [1, 2, 4, 8, 16, 16, 16]  # doubling, up to the cap
        assert login_from(app, "10.0.0.8", "eve").status_code == 200  # the pair waits, not the account
        clock.advance(16)
        assert login_from(app, "10.0.0.66", "eve").status_code == 200


def test_guessing_from_many_addresses_stays_slow_but_never_locks_the_account(tmp_path: Path) -> None:
    clock = Clock()
    account_cap = 8
    with users_app(tmp_path, clock=clock, login_max_failures=2, login_account_delay_seconds=account_cap) as app:
        started = clock.now
        checked = 0
        for n in range(40):  # each guess from an address of its own, as soon as it is allowed
            answer = login_from(app, f"10.{n // 250}.{n % 250}.9", "rival", WRONG)
            if answer.status_code == 429:
                wait = int(answer.headers["Retry-After"])
                assert 1 <= wait <= account_cap, answer.text  # slowed, never for long
                assert "for this account from elsewhere" in answer.json()["error"]
                clock.advance(wait)
            else:
                assert answer.status_code == 401
                checked += 1
        minutes = (clock.now - started).total_seconds() / 60
        # 2 × 2 free failures, then about one guess per cap: slow, whatever the number of addresses.
        assert checked <= 4 + minutes * 60 / account_cap + 5
        assert minutes > 1.5
        # The owner, from an address never seen: at most one cap's wait, then in.
        first = login_from(app, "192.168.1.20", "rival")
        if first.status_code == 429:
            assert int(first.headers["Retry-After"]) <= account_cap
            clock.advance(int(first.headers["Retry-After"]))
            first = login_from(app, "192.168.1.20", "rival")
        assert first.status_code == 200, first.text


def test_spraying_many_names_from_one_address_slows_that_address(tmp_path: Path) -> None:
    clock = Clock()
    with users_app(tmp_path, clock=clock, login_max_failures=2) as app:
        for n in range(8):  # 2 × 4 free failures for an address, across names
            assert login_from(app, "10.0.0.66", f"user{n}", WRONG).status_code == 401
        refused = login_from(app, "10.0.0.66", "someone-else", WRONG)
        assert refused.status_code == 429
        assert "from this address" in refused.json()["error"]
        # The names it tried are not slowed for their owners elsewhere, nor is anyone else.
        assert login_from(app, "10.0.0.7", "user0", WRONG).status_code == 401
        assert login_from(app, "10.0.0.7", "vic").status_code == 200


@pytest.mark.parametrize("typed", ["ADA", " ada", "Ada "])
def test_the_names_case_and_spaces_do_not_give_fresh_guesses(tmp_path: Path, typed: str) -> None:
    clock = Clock()
    with users_app(tmp_path, clock=clock, login_max_failures=2) as app:
        assert login_from(app, "10.0.0.66", "ada", WRONG).status_code == 401
        assert login_from(app, "10.0.0.66", typed, WRONG).status_code == 401
        assert login_from(app, "10.0.0.66", "ada", WRONG).status_code == 429


# --- bursts: the attempt is counted before its password is checked ------------------------------


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """`app` under uvicorn on a loopback port (real concurrency: threads, connections, a pool)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", **SERVER_OPTIONS))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the arena did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def burst_arena(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[str]]]:
    """A served users-mode arena on `kind`'s database, with time standing still for the throttle
    (so no wait runs out during the burst) and every password check written down."""
    with make_database(kind, tmp_path, migrate=False) as database:
        url = database.url.render_as_string(hide_password=False)
        settings = make_settings(
            tmp_path / "data",
            auth_mode_setting="users",
            embedded_enabled=False,
            rate_limit_login="off",
            database_url=url,
        )
        create_accounts(settings.data_dir, url)
        checked: list[str] = []
        real_verify = accounts.verify_password

        def counting_verify(*args: Any, **kwargs: Any) -> Any:
            checked.append(kwargs["username"])
            return real_verify(*args, **kwargs)

        monkeypatch.setattr(accounts, "verify_password", counting_verify)
        app = create_app(settings)
        app.state.login_throttle = LoginThrottle.from_settings(settings, app.state.database, clock=Clock())
        with served(app) as base_url:
            yield base_url, checked


def fire(base_url: str, attempts: list[tuple[str, str]]) -> list[int]:
    """Every (address, username) attempt at once, with a wrong password, each on its own connection."""
    gate = threading.Barrier(len(attempts))

    def attempt(address: str, username: str) -> int:
        transport = httpx.HTTPTransport(local_address=address)
        with httpx.Client(base_url=base_url, transport=transport, timeout=60) as client:
            gate.wait()
            return client.post("/api/auth/login", json={"username": username, "password": WRONG}).status_code

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        return list(pool.map(lambda pair: attempt(*pair), attempts))


@pytest.mark.parametrize("kind", DATABASE_PARAMS)
def test_a_burst_from_one_address_gets_only_the_free_password_checks(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with burst_arena(kind, tmp_path, monkeypatch) as (base_url, checked):
        statuses = fire(base_url, [("127.0.0.1", "eve")] * 20)
    # Before: all 20 were checked (401), none waited: each passed the check before any failure was counted.
    assert sorted(statuses) == [401] * 5 + [429] * 15
    assert len(checked) == 5


@pytest.mark.parametrize("kind", DATABASE_PARAMS)
def test_a_burst_from_three_addresses_gets_only_the_accounts_free_password_checks(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    addresses = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    with burst_arena(kind, tmp_path, monkeypatch) as (base_url, checked):
        statuses = fire(base_url, [(address, "eve") for address in addresses] * 20)
    # 5 per address would be 15; the account-wide rule stops them at 2 × 5, however they interleave.
    assert sorted(statuses) == [401] * 10 + [429] * 50
    assert len(checked) == 10
