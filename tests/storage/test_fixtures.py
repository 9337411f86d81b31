"""The PostgreSQL half of the suite must never vanish silently from CI."""

from __future__ import annotations

import pytest

from tests.support.db_fixtures import POSTGRES_URL_ENV, postgres_url


def test_missing_postgres_url_skips_on_a_workstation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(POSTGRES_URL_ENV, raising=False)
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(pytest.skip.Exception, match=f"{POSTGRES_URL_ENV} not set"):
        postgres_url()


@pytest.mark.parametrize("ci", ["true", "1"])
def test_missing_postgres_url_fails_under_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.delenv(POSTGRES_URL_ENV, raising=False)
    monkeypatch.setenv("CI", ci)

    with pytest.raises(pytest.fail.Exception, match=POSTGRES_URL_ENV):
        postgres_url()


def test_configured_postgres_url_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+psycopg://arena:arena@127.0.0.1:5432/arena_test"
    monkeypatch.setenv(POSTGRES_URL_ENV, url)
    monkeypatch.setenv("CI", "true")

    assert postgres_url() == url
