"""llama.cpp's own log never reaches the terminal or the server log unless ARENA_LOG_LEVEL=debug
asks for it. Gemma is the model that showed it: loading it logs a warning ("using full-size SWA
cache") that llama-cpp-python's callback printed to stderr."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.support.process import arena_process

GEMMA = "local:gemma3-270m"
LLAMA_LINE = re.compile(r"\b(llama|ggml)\w*:")  # llama.cpp's lines start with their function's name


def chat(url: str) -> None:
    """Two Gemma instances at once: two loads, and two generations, in one server."""
    body = {
        "message": "Name a colour.",
        "model_instances": [
            {"model": GEMMA, "num_predict": 4, "temperature": 0.2},
            {"model": GEMMA, "num_predict": 4, "temperature": 1.0},
        ],
    }
    with httpx.stream("POST", f"{url}/api/stream_chat?format=arena", json=body, timeout=240) as response:
        lines = [line for line in response.iter_lines() if line.strip()]
    assert response.status_code == 200
    assert sum('"done":true' in line.replace(" ", "") for line in lines) == 2
    assert not any('"status":"error"' in line.replace(" ", "") for line in lines), lines


@pytest.mark.slow
@pytest.mark.parametrize("level", [None, "debug"])
def test_the_server_log_has_llama_cpp_lines_only_at_debug(tmp_path: Path, level: str | None) -> None:
    log = tmp_path / "serve.log"
    env = {"ARENA_LOG_LEVEL": level} if level else {}
    with log.open("wb") as sink, arena_process(tmp_path / "data", env=env, output=sink) as (_process, url):
        chat(url)
    text = log.read_text()
    assert "Application startup complete" in text, text  # uvicorn's own lines stay either way
    if level is None:
        assert not LLAMA_LINE.search(text), text
    else:
        assert "DEBUG arena.llama_cpp: [warn] llama_kv_cache_iswa: using full-size SWA cache" in text
        assert "POST /api/stream_chat?[redacted]" in text


def test_an_unknown_log_level_stops_start_up_with_one_line() -> None:
    from typer.testing import CliRunner

    from arena.cli import app

    result = CliRunner().invoke(app, ["models"], env={"ARENA_LOG_LEVEL": "chatty", "COLUMNS": "200"})
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "ARENA_LOG_LEVEL" in lines[0], result.output
