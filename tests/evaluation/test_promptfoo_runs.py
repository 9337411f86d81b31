"""`arena bench run promptfooconfig.yaml` end to end on the Ollama double: pass rates per instance
and per assertion in every report format, `--fail-under` for CI, and a bad config that exits 2
naming the line and creates no run."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arena.cli import app
from arena.cli.bench import bench_app
from tests.support.doubles.ollama import OllamaDouble

pytestmark = pytest.mark.timeout(120)
runner = CliRunner()
LLAMA, QWEN = "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"
# The double answers every prompt with "The sky is blue — Rayleigh scattering."
CONFIG = """\
description: Sky questions
prompts:
  - "Why is the sky {{colour}}?"
providers:
  - id: openai:chat:ollama:llama3.2:1b
    config:
      apiBaseUrl: http://127.0.0.1:8000/v1
      temperature: 0
      seed: 7
tests:
  - description: blue
    vars: {colour: blue}
    assert:
      - type: icontains
        value: rayleigh
      - type: starts-with
        value: The sky
  - description: green
    vars: {colour: green}
    assert:
      - type: contains
        value: "{{colour}}"
"""


@pytest.fixture
def arena_env(tmp_path: Path, double: OllamaDouble, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OLLAMA_HOST", double.url)
    monkeypatch.setenv("ARENA_EMBEDDED", "0")
    monkeypatch.setenv("ARENA_DATA_DIR", str(tmp_path / "data"))
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text(CONFIG)
    return config


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(bench_app, ["run", *args, "--quiet"], env={"COLUMNS": "200"})
    return result.exit_code, " ".join(result.output.split())


def test_a_config_runs_as_a_benchmark_with_pass_rates_in_every_report_format(
    arena_env: Path, double: OllamaDouble, tmp_path: Path
) -> None:
    report = tmp_path / "report"
    code, output = run(str(arena_env), "-m", LLAMA, "-m", QWEN, "--report-dir", str(report))

    assert code == 0, output
    assert "run " in output and "2 prompts × 2 models" in output and "promptfoo tests passed: 2/4 (50%)" in output
    # -m replaced the providers; the rendered prompt reached the engine.
    asked = {(body["model"], body["messages"][-1]["content"]) for body in double.bodies("/api/chat")}
    assert asked == {(m, f"Why is the sky {c}?") for m in ("llama3.2:1b", "qwen2.5:0.5b") for c in ("blue", "green")}
    data = json.loads((report / "report.json").read_text())
    assert data["run"]["name"] == "Sky questions"
    rates = data["pass_rates"]
    assert rates["overall"] == {"passed": 2, "total": 4, "rate": 0.5}
    assert [(r["passed"], r["total"], r["errors"]) for r in rates["instances"]] == [(1, 2, 0), (1, 2, 0)]
    by_assertion = {(r["assertion"], r["instance_id"].split("_")[1]): r["rate"] for r in rates["assertions"]}
    assert by_assertion[("contains green", "llama3.2")] == 0.0
    assert by_assertion[("icontains rayleigh", "qwen2.5")] == 1.0
    green = next(item for item in data["items"] if item["prompt_id"] == "t2")
    assert green["grade"]["pass"] is False and green["grade"]["reason"] == 'Expected output to contain "green"'
    # Markdown, HTML and CSV say the same.
    markdown = (report / "report.md").read_text()
    assert "## promptfoo tests" in markdown and "Passed overall: 2/4 (50%)" in markdown
    assert "| contains green | llama3.2:1b | 0/1 (0%) |" in markdown
    # promptfoo's results table: a row per test (its description), a column per instance.
    assert "| test | llama3.2:1b | qwen2.5:0.5b |" in markdown
    assert "| blue | pass | pass |" in markdown and "| green | fail | fail |" in markdown
    html = (report / "report.html").read_text()
    assert "<tr><td>green</td><td class=\"num\">fail</td>" in html
    assert 'id="promptfoo-tests"' in html and "test <strong>failed</strong>" in html
    rows = list(csv.DictReader(io.StringIO((report / "pass_rates.csv").read_text())))
    assert [(r["assertion"], r["passed"], r["total"]) for r in rows[:2]] == [("(all tests)", "1", "2")] * 2
    # named as report.md names them (the id kept beside): rows that read alike are told apart
    assert [r["instance"] for r in rows[:2]] == ["llama3.2:1b", "qwen2.5:0.5b"] and rows[0]["instance_id"] != "llama3.2:1b"
    items = list(csv.DictReader(io.StringIO((report / "items.csv").read_text())))
    assert sorted((r["prompt_id"], r["test_pass"]) for r in items) == [
        ("t1", "True"), ("t1", "True"), ("t2", "False"), ("t2", "False"),
    ]  # fmt: skip


def test_fail_under_turns_a_low_pass_rate_into_a_failing_exit_code(arena_env: Path) -> None:
    code, output = run(str(arena_env), "--fail-under", "0.6")
    # 100, as promptfoo exits for failed tests: CI tells it from a run that could not start (1, 2).
    assert code == 100 and "pass rate 50.00% is below --fail-under 60.00%" in output, output
    code, output = run(str(arena_env), "--fail-under", "0.5")
    assert code == 0 and "promptfoo tests passed: 1/2 (50%)" in output, output
    # `arena leaderboard` shows the pass rates as the API's column does, over both runs.
    board = runner.invoke(app, ["leaderboard", "--rounds", "0"], env={"COLUMNS": "200"})
    assert board.exit_code == 0 and "promptfoo tests passed" in board.output, board.output
    assert "llama3.2:1b" in board.output and "50% (2/4)" in board.output, board.output
    listed = runner.invoke(app, ["leaderboard", "--rounds", "0", "--json"], env={"COLUMNS": "200"})
    assert json.loads(listed.output)["pass_rates"] == {LLAMA: {"passed": 2, "total": 4, "rate": 0.5}}


CHAT_CONFIG = """\
prompts:
  - '[{"role": "system", "content": "Answer in one line."}, {"role": "user", "content": "Hi"},
     {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Why is the sky {{colour}}?"}]'
providers:
  - id: openai:chat:ollama:llama3.2:1b
    label: small llama
tests:
  - vars: {colour: blue}
"""


def test_a_chat_prompt_and_promptfoos_defaults_reach_the_model_and_the_label_names_it(
    arena_env: Path, double: OllamaDouble, tmp_path: Path
) -> None:
    arena_env.write_text(CHAT_CONFIG)
    report = tmp_path / "report"
    code, output = run(str(arena_env), "--report-dir", str(report))
    assert code == 0, output
    (body,) = double.bodies("/api/chat")
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("system", "Answer in one line."), ("user", "Hi"), ("assistant", "Hello."), ("user", "Why is the sky blue?"),
    ]  # fmt: skip
    # What promptfoo would send through /v1 for settings left out: greedy, 1024 tokens.
    options = body["options"]
    assert (options["top_k"], options["num_predict"]) == (1, 1024)
    # No assertions: passes, as in promptfoo; the provider's label names the instance.
    assert "promptfoo tests passed: 1/1 (100%)" in output
    assert "| test | small llama |" in (report / "report.md").read_text()


def test_a_bad_config_exits_2_naming_the_line_and_creates_no_run(arena_env: Path, tmp_path: Path) -> None:
    arena_env.write_text(CONFIG.replace("type: starts-with", "type: python"))
    code, output = run(str(arena_env))
    assert code == 2
    assert "promptfooconfig.yaml: line 16: tests[0].assert[1]: assertion type 'python' runs code" in output
    listed = runner.invoke(bench_app, ["list", "--json"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and json.loads(listed.output) == []
    with sqlite3.connect(tmp_path / "data" / "arena.db") as db:
        assert db.execute("SELECT count(*) FROM bench_items").fetchone() == (0,)
