"""`arena models | pull | rm | serve` as a user runs them."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from arena.cli import app
from tests.support.doubles.ollama import DoubleModel, ollama_double

runner = CliRunner()


def test_models_lists_every_engine_and_says_which_are_down() -> None:
    with ollama_double() as double:
        result = runner.invoke(app, ["models"], env={"OLLAMA_HOST": f"{double.url},127.0.0.1:9", "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for model_id in ("local:smollm2-135m-instruct", "local:gemma3-270m", "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"):
        assert model_id in result.output
    assert "http://127.0.0.1:9: down Ollama is not running" in " ".join(result.output.split())


def test_pull_shows_progress_and_rm_deletes() -> None:
    with ollama_double(library=[DoubleModel(name="tinyllama:latest")]) as double:
        env = {"OLLAMA_HOST": double.url, "COLUMNS": "200"}
        pulled = runner.invoke(app, ["pull", "tinyllama"], env=env)
        assert pulled.exit_code == 0, pulled.output
        assert "pulled tinyllama" in pulled.output
        assert "tinyllama:latest" in double.models
        removed = runner.invoke(app, ["rm", "tinyllama"], env=env)
        assert removed.exit_code == 0, removed.output
        assert "tinyllama:latest" not in double.models
        missing = runner.invoke(app, ["rm", "tinyllama"], env=env)
    assert missing.exit_code != 0
    assert "tinyllama" in missing.output


def test_pull_when_ollama_is_down_fails_with_advice() -> None:
    result = runner.invoke(app, ["pull", "llama3.2"], env={"OLLAMA_HOST": "127.0.0.1:9", "COLUMNS": "200"})
    assert result.exit_code == 1
    assert "Ollama is not running at http://127.0.0.1:9" in " ".join(result.output.split())


@pytest.mark.parametrize(("name", "value"), [("WEB_PORT", "not-a-port"), ("HISTORY_LIMIT", "-3")])
def test_serve_refuses_a_wrong_setting_with_one_line(name: str, value: str) -> None:
    result = runner.invoke(app, ["serve"], env={name: value, "COLUMNS": "200"})
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and name in lines[0] and "invalid configuration" in lines[0]


def test_serve_refuses_a_network_address_without_a_token() -> None:
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--port", "1"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "refusing to serve 0.0.0.0 without authentication" in " ".join(result.output.split())


@pytest.mark.parametrize("extra", [[], ["--insecure-no-auth"]])
def test_serve_on_every_interface_needs_host_names(extra: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    served: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: served.append(args))
    env = {"ARENA_AUTH_MODE": "users" if not extra else "none", "COLUMNS": "80"}
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--port", "1", *extra], env=env)
    assert not served and result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "refusing to serve 0.0.0.0 (every interface) without host names: set ARENA_ALLOWED_HOSTS" in lines[0]


def test_loopback_checks() -> None:
    from arena.web.middleware import is_loopback

    assert all(is_loopback(a) for a in ("127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"))
    assert not any(is_loopback(a) for a in ("0.0.0.0", "192.168.1.10", "::", "example.org"))


def test_serve_takes_a_network_address_with_accounts_and_asks_for_the_first_admin(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import httpx

    from tests.support.process import arena_process

    log = tmp_path / "serve.log"
    env = {"WEB_BIND": "0.0.0.0", "ARENA_AUTH_MODE": "users", "ARENA_EMBEDDED": "false", "ARENA_ALLOWED_HOSTS": "arena.lan"}
    with log.open("wb") as sink, arena_process(tmp_path / "data", env=env, output=sink) as (_process, url):
        assert httpx.get(f"{url}/api/conversations").status_code == 401  # up, and asking who is there
    assert "arena user add NAME --role admin" in " ".join(log.read_text().split())
