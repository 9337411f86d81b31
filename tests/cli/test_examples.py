"""The bench commands the README and examples/README.md show run as written, from a checkout,
on the prompt set shipped in examples/: real SmolLM2 and Gemma answers (a small num_predict),
and the README's Ollama judge played by the Ollama double."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from arena.evaluation.bench.prompt_sets import load_prompt_set
from tests.cli.test_bench_cli import query, wait_until
from tests.support.doubles.judging import JudgingOllama
from tests.support.doubles.ollama import DoubleModel

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "private-tasks.jsonl"
DOCUMENTS = (ROOT / "README.md", ROOT / "examples" / "README.md")


def documented_bench_commands() -> list[list[str]]:
    """Every `arena bench …` command in the documents' bash blocks, continuations joined, comments off."""
    commands: list[list[str]] = []
    for document in DOCUMENTS:
        for block in re.findall(r"```bash\n(.*?)```", document.read_text(), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                if not line.strip().startswith("arena bench "):
                    continue
                words = shlex.split(line, comments=True)
                if words not in commands:
                    commands.append(words)
    return commands


def test_the_example_set_is_ours_and_loads_with_categories_and_references() -> None:
    prompt_set = load_prompt_set(EXAMPLE)
    assert 12 <= len(prompt_set) <= 20
    assert prompt_set.categories == ["coding", "extract", "reasoning", "summarise", "writing"]
    counts = Counter(item.category for item in prompt_set.items)
    assert min(counts.values()) >= 3
    for item in prompt_set.items:  # one right answer where the task has one
        assert item.reference or item.category in ("writing", "summarise"), item.id
    assert any(len(item.turns) == 2 for item in prompt_set.items)
    commands = documented_bench_commands()
    runs = [c for c in commands if c[2] == "run"]
    assert runs and all(c[3] == "examples/private-tasks.jsonl" for c in runs), "no README points outside the checkout"
    assert not any("../" in word for command in commands for word in command)


def _small(command: list[str], run_id: str) -> list[str]:
    """The command as documented, with a small token limit and the real run id."""
    words = [w.replace("num_predict=128", "num_predict=8").replace("RUN_ID", run_id) for w in command]
    return [sys.executable, "-m", "arena", *words[1:]]


@pytest.mark.slow
@pytest.mark.timeout(900)  # 64 real generations: about a minute alone, several on a shared machine
def test_the_documented_bench_commands_run_on_the_example_set(tmp_path: Path) -> None:
    # `arena bench worker` runs until stopped: tests/cli/test_bench_worker.py runs it for real; the
    # `compare` examples name runs by placeholder: tests/evaluation/test_bench_compare.py runs it.
    commands = [c for c in documented_bench_commands() if c[2] not in ("worker", "compare")]
    kinds = [c[2] for c in commands]
    assert kinds == ["run", "run", "list", "resume", "report"], commands
    plain, judged, listing, resume, report = commands
    assert "--judge" in judged and "--judge" not in plain

    (tmp_path / "examples").symlink_to(ROOT / "examples")  # run from a checkout's root
    data_dir = tmp_path / "data"
    judge = JudgingOllama()
    judge.models["qwen2.5:7b"] = DoubleModel(name="qwen2.5:7b")
    judge.start()
    env = {**os.environ, "ARENA_DATA_DIR": str(data_dir), "OLLAMA_HOST": judge.url, "COLUMNS": "200"}
    env.pop("ARENA_LOG_LEVEL", None)

    def arena(command: list[str], run_id: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            _small(command, run_id), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=280
        )

    try:
        # The plain run, stopped after its first answers (SIGTERM, as a closed terminal sends) …
        process = subprocess.Popen(
            _small(plain, ""), cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            wait_until(lambda: query(data_dir, "SELECT 1 FROM bench_items WHERE status = 'done'"), what="an answer")
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
        [(run_id,)] = query(data_dir, "SELECT id FROM bench_runs")
        assert process.returncode == 1 and f"arena bench resume {run_id[:8]}" in err, out + err

        # … then the rest of the documented commands, as written.
        resumed = arena(resume, run_id)
        judged_run = arena(judged)
        listed = arena(listing)
        rewritten = arena(report, run_id)
    finally:
        judge.stop()

    for done in (resumed, judged_run, listed, rewritten):
        assert done.returncode == 0, done.stdout + done.stderr
        assert not re.search(r"\b(llama|ggml)\w*:", done.stderr), "nothing of llama.cpp's log on the terminal"
    items = query(data_dir, "SELECT run_id, status, model FROM bench_items")
    assert Counter(status for _run, status, _model in items) == {"done": 2 * 2 * 16}
    assert {model for _run, _status, model in items} == {"local:smollm2-135m-instruct", "local:gemma3-270m"}
    assert query(data_dir, "SELECT status, count(*) FROM bench_judgments GROUP BY status") == [("done", 16)]
    assert len(judge.judge_bodies()) == 2 * 16  # both orders of each pair
    [judged_id] = {run for run, _status, _model in items} - {run_id}
    assert run_id in listed.stdout and judged_id in listed.stdout
    data = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert data["run"]["id"] == run_id and data["summary"]["items"] == {"done": 32}
