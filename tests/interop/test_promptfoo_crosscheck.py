"""One promptfoo config, two graders: the promptfoo CLI (through the arena's /v1 gateway) and
`arena bench run` give the same answers and the same pass/fail for every deterministic assertion
and every test (issue 16). The arena's grader also re-grades promptfoo's own answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arena.cli.bench import bench_app
from arena.evaluation.bench.promptfoo_asserts import grade_answer
from arena.evaluation.bench.promptfoo_config import parse_promptfoo_config
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory
from tests.support.promptfoo import promptfoo, run_promptfoo

pytestmark = pytest.mark.timeout(900)  # the first run may install promptfoo (.ci/run does it beforehand)

__all__ = ["promptfoo"]
TOKEN = "promptfoo-reads-this-as-its-openai-api-key"
CONFIG = Path(__file__).parents[1] / "evaluation" / "promptfoo_configs" / "crosscheck.yaml"
ANSWER = '{"city": "Paris", "country": "France", "population": 2100000}'
# Each test's assertions as promptfoo grades the fixed answer: every type passes and fails somewhere.
EXPECTED = {
    "strings": (True, [True] * 9),
    "failing strings": (False, [True, False, False, False, False, False, False]),
    "json": (False, [True, True, True, False, False, True, True]),
    "weights and threshold": (True, [True, True, False, True]),
    "threshold not reached": (False, [True, True, False]),
}


def test_promptfoo_and_the_arena_grade_the_same_config_alike(
    promptfoo: Path, double: OllamaDouble, arena_factory: ArenaFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    double.reply = ['{"city": "Paris", ', '"country": "France", ', '"population": 2100000}']
    arena = arena_factory(web_chat_token=TOKEN, ollama_hosts=[double.url], embedded_enabled=False)
    config = CONFIG.read_text().replace("ARENA_BASE_URL", f"{arena.url}/v1").replace("ARENA_TOKEN", TOKEN)
    (tmp_path / "promptfooconfig.yaml").write_text(config)

    done = run_promptfoo(
        promptfoo, ["eval", "-c", "promptfooconfig.yaml", "-o", "results.json", "--no-cache", "--no-table",
                    "--no-progress-bar", "-j", "1"], state_dir=tmp_path,
    )  # fmt: skip
    assert done.returncode == 100, done.stdout[-3000:] + done.stderr[-3000:]  # some tests fail, as written
    theirs = {
        r["testCase"]["description"]: r for r in json.loads((tmp_path / "results.json").read_text())["results"]["results"]
    }

    monkeypatch.setenv("OLLAMA_HOST", double.url)
    monkeypatch.setenv("ARENA_EMBEDDED", "0")
    monkeypatch.setenv("ARENA_DATA_DIR", str(tmp_path / "bench-data"))
    report = tmp_path / "report"
    ran = CliRunner().invoke(
        bench_app, ["run", str(tmp_path / "promptfooconfig.yaml"), "--quiet", "--report-dir", str(report)],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert "promptfoo tests passed: 2/5 (40%)" in ran.output
    ours = json.loads((report / "report.json").read_text())["items"]
    suite = parse_promptfoo_config(config.encode(), filename="promptfooconfig.yaml")
    described = {item.id: item.checks["description"] for item in suite.prompt_set.items}

    assert set(theirs) == set(EXPECTED) and len(ours) == len(EXPECTED)
    for item in ours:
        name = described[item["prompt_id"]]
        result = theirs[name]
        their_passes = [c["pass"] for c in result["gradingResult"]["componentResults"]]
        our_passes = [r["pass"] for r in item["grade"]["results"]]
        assert result["response"]["output"] == item["answers"][0] == ANSWER, name  # the same answer
        assert (result["success"], their_passes) == EXPECTED[name], name
        assert (item["grade"]["pass"], our_passes) == EXPECTED[name], name
        assert item["grade"]["score"] == pytest.approx(result["score"]), name
        # And promptfoo's own answer, graded by the arena, gives promptfoo's verdicts.
        checks = next(i.checks for i in suite.prompt_set.items if i.id == item["prompt_id"])
        regraded = grade_answer(checks, output=result["response"]["output"], latency_ms=result["latencyMs"])
        assert [r["pass"] for r in regraded["results"]] == their_passes, name
