"""Settings come from the environment once, validated, with clear messages."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from arena.settings import Settings, describe_validation_error, normalize_ollama_url


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:11434"),
        ("0.0.0.0", "http://127.0.0.1:11434"),
        ("gpu-box:8080", "http://gpu-box:8080"),
        ("https://ollama.example.org", "https://ollama.example.org:443"),
        ("http://[::1]:11434/", "http://[::1]:11434"),
    ],
)
def test_ollama_host_is_read_as_ollamas_own_clients_read_it(raw: str, url: str) -> None:
    assert normalize_ollama_url(raw) == url


def test_defaults(isolated_environment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_HOST")
    settings = Settings()
    assert (settings.web_bind, settings.web_port) == ("127.0.0.1", 7860)
    assert settings.ollama_hosts == ["http://127.0.0.1:11434"]
    assert settings.history_limit == 40
    assert settings.data_dir == isolated_environment
    assert settings.resolved_database_url == f"sqlite:///{isolated_environment / 'arena.db'}"


def test_generation_limits_default_to_eight_instances_per_user(isolated_environment: Path) -> None:
    """Issue 10: one user may run a full comparison (v3 allowed 8 instances), and no more."""
    settings = Settings()
    assert settings.max_instances == settings.max_streams_per_user == 8
    # v3 counted requests; the budget counts instance generations: 8 full comparisons by default.
    assert settings.max_generations == 8 * 8


def test_the_server_budget_follows_a_v3_config_unless_set(isolated_environment: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_CONCURRENT_REQUESTS", "2")
    monkeypatch.setenv("ARENA_MAX_INSTANCES", "3")
    assert Settings().max_generations == 6
    monkeypatch.setenv("ARENA_MAX_GENERATIONS", "5")
    assert Settings().max_generations == 5
    monkeypatch.setenv("ARENA_MAX_GENERATIONS", "0")
    with pytest.raises(ValidationError) as error:
        Settings()
    assert describe_validation_error(error.value).startswith("ARENA_MAX_GENERATIONS:")


def test_several_ollama_hosts_and_openai_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:11434, gpu-box")
    monkeypatch.setenv("ARENA_OPENAI_ENDPOINTS", "vllm=http://127.0.0.1:8000/v1/,router=https://openrouter.ai/api/v1")
    monkeypatch.setenv("ARENA_OPENAI_KEY_ROUTER", "sk-or-secret")
    settings = Settings()
    assert settings.ollama_hosts == ["http://127.0.0.1:11434", "http://gpu-box:11434"]
    vllm, router = settings.openai_endpoints
    assert (vllm.name, vllm.base_url, vllm.api_key) == ("vllm", "http://127.0.0.1:8000/v1", None)
    assert router.api_key is not None and router.api_key.get_secret_value() == "sk-or-secret"
    assert "sk-or-secret" not in repr(settings) and "sk-or-secret" not in str(settings.model_dump())


def test_openai_endpoints_as_json_with_a_named_key_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "k-123")
    monkeypatch.setenv("ARENA_OPENAI_ENDPOINTS", '[{"name": "lms", "base_url": "http://127.0.0.1:1234/v1", "api_key_env": "MY_KEY"}]')
    [endpoint] = Settings().openai_endpoints
    assert endpoint.api_key is not None and endpoint.api_key.get_secret_value() == "k-123"


def test_trusted_proxies_are_addresses_and_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().trusted_proxies == []  # by default nobody's X-Forwarded-* is believed
    monkeypatch.setenv("ARENA_TRUSTED_PROXIES", " 127.0.0.1, 10.1.2.3/8 ,::1")
    assert Settings().trusted_proxies == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]


def test_an_empty_redis_url_is_unset_and_a_url_is_kept_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARENA_REDIS_URL", "  ")  # an empty line in an env file
    assert Settings().redis_url is None
    monkeypatch.setenv("ARENA_REDIS_URL", "redis://:pw@127.0.0.1:6379/0")
    url = Settings().redis_url
    assert url is not None and url.get_secret_value() == "redis://:pw@127.0.0.1:6379/0" and "pw" not in repr(url)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("WEB_PORT", "abc", "WEB_PORT"),
        ("WEB_PORT", "70000", "WEB_PORT"),
        ("HISTORY_LIMIT", "0", "HISTORY_LIMIT"),
        ("OLLAMA_HOST", "ftp://x", "OLLAMA_HOST"),
        ("ARENA_OPENAI_ENDPOINTS", "no-equals-sign", "ARENA_OPENAI_ENDPOINTS"),
        ("ARENA_OPENAI_ENDPOINTS", "a=http://x/v1,a=http://y/v1", "unique"),
        ("ARENA_EMBEDDED_SLOTS", "0", "ARENA_EMBEDDED_SLOTS"),
        ("ARENA_TRUSTED_PROXIES", "127.0.0.1,proxy.lan", "ARENA_TRUSTED_PROXIES"),
        ("ARENA_REDIS_URL", "127.0.0.1:6379", "ARENA_REDIS_URL"),  # no scheme: workers would fail in a loop
    ],
)
def test_a_wrong_value_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    message = describe_validation_error(caught.value)
    assert says in message and "\n" not in message


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("WEB_PORT=9999\nHISTORY_LIMIT=7\n")
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert (settings.web_port, settings.history_limit) == (9999, 7)


def test_the_token_is_never_logged(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("WEB_CHAT_TOKEN", "tok-very-secret")
    caplog.set_level(logging.DEBUG)
    settings = Settings()
    logging.getLogger("arena.test").info("settings: %s", settings)
    assert settings.web_chat_token is not None
    assert "tok-very-secret" not in caplog.text and "tok-very-secret" not in repr(settings)
