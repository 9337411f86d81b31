"""`arena bench run` with a judge that answers "A" whatever the order: the report flags it, `arena judges`
shows its numbers, and the next run that names it is warned before it starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from arena.cli import app
from arena.cli.judges import judge_baseline
from arena.evaluation.conversation.instances import ModelInstance
from tests.support.doubles.ollama import OllamaDouble

pytestmark = pytest.mark.timeout(120)

LLAMA, QWEN = "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"
SAYS_A = '{"explanation": "The first one.", "verdict": "A"}'
runner = CliRunner()


def test_a_judge_that_flips_is_flagged_by_the_cli_where_it_is_chosen(
    tmp_path: Path, double: OllamaDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", double.url)
    monkeypatch.setenv("ARENA_EMBEDDED", "0")
    double.reply = [SAYS_A]
    prompts = tmp_path / "five.txt"
    prompts.write_text("One?\nTwo?\nThree?\nFour?\nFive?\n")  # 5 pairs: enough to flag a judge
    report = tmp_path / "report"
    run = ["bench", "run", str(prompts), "-m", LLAMA, "-m", QWEN, "--judge", LLAMA, "--quiet"]
    env = {"COLUMNS": "200"}

    first = runner.invoke(app, [*run, "--report-dir", str(report)], env=env)
    judges = runner.invoke(app, ["judges"], env=env)
    second = runner.invoke(app, run, env=env)

    assert first.exit_code == 0, first.output
    assert "warning:" not in first.output
    written = (report / "report.md").read_text()
    assert f"**Warning:** {LLAMA} was inconsistent on 5 of 5 pairs" in written
    assert "**Note:** Every battle is a tie" in written
    line = next(line for line in judges.output.splitlines() if line.lstrip().startswith(LLAMA))
    assert line.split()[1:4] == ["5", "0%", "unreliable"]
    assert second.exit_code == 0, second.output
    said = " ".join(second.output.split())
    assert f"warning: {LLAMA} was inconsistent on 5 of 5 pairs" in said and "bigger judge" in said


def test_baseline_is_read_as_written_in_a_model_option_or_as_an_id() -> None:
    specs = [f"{LLAMA}@temperature=0.2", QWEN]
    instances = [ModelInstance(model=LLAMA, temperature=0.2), ModelInstance(model=QWEN)]
    assert judge_baseline(None, specs, instances) is None
    assert judge_baseline(specs[0], specs, instances) == instances[0].instance_id
    assert judge_baseline(QWEN, specs, instances) == instances[1].instance_id
    assert judge_baseline("ollama:other", specs, instances) == "ollama:other"  # an id: checked by the spec
