"""promptfoo's `llm-rubric` and `model-graded-closedqa` graded by the arena's judge: promptfoo's
prompts and reading, a `not-` form, an unreadable grader answer that fails (never a guessed
verdict), on the judging double; and one real SmolLM2 grading call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from arena.cli.bench import bench_app
from arena.engines.base import Message
from arena.errors import EngineTimeout, InvalidInput
from arena.evaluation.bench.promptfoo_asserts import normalize_assertion
from arena.evaluation.bench.promptfoo_graded import UNREADABLE, grade_with_model, read_closedqa, read_rubric
from tests.support.doubles.judging import JUDGE, JudgingOllama
from tests.support.fixtures import DoubleFactory
from tests.support.models import SMOL

pytestmark = pytest.mark.timeout(180)
runner = CliRunner()
LLAMA, QWEN = "ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"
# The double answers every prompt with "The sky is blue — Rayleigh scattering."
CONFIG = """\
prompts:
  - "Why is the sky {{colour}}?"
tests:
  - description: graded
    vars: {colour: blue}
    assert:
      - type: llm-rubric
        value: Explains the colour politely
      - type: model-graded-closedqa
        value: Names Rayleigh scattering
      - type: not-llm-rubric
        value: Talks like a pirate
  - description: unreadable
    vars: {colour: green}
    assert:
      - type: llm-rubric
        value: Mumble
  - description: below threshold
    vars: {colour: red}
    assert:
      - type: llm-rubric
        value: Is a full essay
        threshold: 0.8
"""


def decide(prompt: str) -> str:
    """The grader's answers, by what the prompt asks."""
    if "<Rubric>\nExplains the colour politely" in prompt:
        return '{"reason": "it explains Rayleigh scattering", "pass": true, "score": 0.9}'
    if "<Rubric>\nTalks like a pirate" in prompt:
        return '{"reason": "no pirate words", "pass": false, "score": 0.0}'
    if "<Rubric>\nIs a full essay" in prompt:
        return '{"reason": "one sentence only", "pass": true, "score": 0.5}'
    if "[Criterion]: Names Rayleigh scattering" in prompt:
        return '{"reasoning": "the submission names it", "answer": "Y"}'
    if "<Rubric>\nMumble" in prompt:
        return "I am not sure what you want"
    return '{"explanation": "the same answer", "verdict": "tie"}'  # the run's pairwise judging


@pytest.fixture
def judging(double_factory: DoubleFactory) -> JudgingOllama:
    double = JudgingOllama()
    double.decide = decide
    double_factory(double)
    return double


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, judging: JudgingOllama) -> Path:
    monkeypatch.setenv("OLLAMA_HOST", judging.url)
    monkeypatch.setenv("ARENA_EMBEDDED", "0")
    monkeypatch.setenv("ARENA_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text(CONFIG)
    return path


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(bench_app, ["run", *args, "--quiet"], env={"COLUMNS": "200"})
    return result.exit_code, " ".join(result.output.split())


def grades(report: Path, *, instance: str) -> dict[str, dict]:
    data = json.loads((report / "report.json").read_text())
    model = instance.split(":")[1]
    return {item["prompt_id"]: item["grade"] for item in data["items"] if model in item["instance_id"]}


def test_the_runs_judge_grades_rubrics_and_closedqa_as_promptfoo_reads_them(
    config: Path, judging: JudgingOllama, tmp_path: Path
) -> None:
    report = tmp_path / "report"
    code, output = run(str(config), "-m", LLAMA, "-m", QWEN, "--judge", JUDGE, "--report-dir", str(report))

    assert code == 0, output
    assert "promptfoo tests passed: 2/6 (33%)" in output
    by_test = grades(report, instance=LLAMA)
    graded = by_test["t1"]
    assert graded["pass"] is True
    assert [(r["type"], r["pass"], r["score"]) for r in graded["results"]] == [
        ("llm-rubric", True, 0.9),
        ("model-graded-closedqa", True, 1.0),
        ("not-llm-rubric", True, 1.0),
    ]
    assert graded["results"][0]["reason"] == "it explains Rayleigh scattering"
    assert graded["results"][1]["reason"].startswith("The submission meets the criterion:")
    unreadable = by_test["t2"]["results"][0]
    assert unreadable["pass"] is False and unreadable["score"] == 0.0
    assert unreadable["reason"].startswith(UNREADABLE) and "I am not sure" in unreadable["reason"]
    essay = by_test["t3"]["results"][0]
    assert essay["pass"] is False and essay["score"] == 0.5  # the grader said pass, the threshold did not
    # One structured call per assertion, promptfoo's prompts with the answer and the task in them.
    bodies = [b for b in judging.judge_bodies() if "<Rubric>" in str(b) or "[Criterion]" in str(b)]
    assert len(bodies) == 10 and all(body["model"] == "judge:7b" for body in bodies)  # 5 per instance
    asked = [body["messages"] for body in bodies]
    rubric = next(m for m in asked if "Explains the colour" in m[-1]["content"])
    assert rubric[0]["content"].startswith("You are grading output according to a user-specified rubric.")
    assert rubric[1]["content"] == (
        "<Output>\nThe sky is blue — Rayleigh scattering.\n</Output>\n<Rubric>\nExplains the colour politely\n</Rubric>"
    )
    closedqa = next(m for m in asked if "[Criterion]" in m[-1]["content"])
    assert "[Task]: Why is the sky blue?" in closedqa[0]["content"]
    assert "[Submission]: The sky is blue — Rayleigh scattering." in closedqa[0]["content"]


def test_without_a_judge_or_the_embedded_default_the_run_is_refused_before_it_starts(
    config: Path, judging: JudgingOllama, tmp_path: Path
) -> None:
    code, output = run(str(config), "-m", LLAMA)

    assert code == 2
    assert f"graded by the run's judge, else the embedded {SMOL}, which is not available here: name a judge" in output
    assert judging.bodies("/api/chat") == []  # nothing generated, never some other model as a grader
    listed = runner.invoke(bench_app, ["list", "--json"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and json.loads(listed.output) == []


class FailingGrader:
    """A grader whose engine times out (a fault no real engine gives on demand)."""

    name, cloud = "ollama:judge:7b", False

    async def complete(self, messages: list[Message], *, schema: dict[str, Any]) -> str:
        raise EngineTimeout("the judge ollama:judge:7b did not finish within 1 s (REQUEST_TIMEOUT)")


@pytest.mark.anyio
async def test_a_grader_that_fails_fails_the_assertion_uninverted() -> None:
    for kind in ("llm-rubric", "not-llm-rubric", "model-graded-closedqa"):
        assertion = normalize_assertion({"type": kind, "value": "polite"}, where="assert")
        passed, score, reason = await grade_with_model(assertion, output="hi", task="Say hi", grader=FailingGrader())
        assert (passed, score) == (False, 0.0)
        assert (
            reason
            == "the grader ollama:judge:7b failed: the judge ollama:judge:7b did not finish within 1 s (REQUEST_TIMEOUT)"
        )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"reason": "ok", "pass": true, "score": 1}', (True, 1.0, "ok")),
        ('Sure: {"reason": "meh", "pass": "no", "score": "0.25"} done', (False, 0.25, "meh")),
        ('{"reason": "no score"}', (True, 1.0, "no score")),  # promptfoo: pass defaults to true
        ('{"pass": false}', (False, 0.0, "Score 0 below threshold None")),
        ("no JSON at all", None),
        ("", None),
    ],
)
def test_a_rubric_answer_is_read_like_promptfoo_reads_it(raw: str, expected: tuple | None) -> None:
    assert read_rubric(raw, threshold=None) == expected


def test_a_closedqa_answer_is_the_letter_it_gives_or_nothing() -> None:
    assert read_closedqa('{"reasoning": "yes it does", "answer": "Y"}') == (
        True, 1.0, "The submission meets the criterion:\nyes it does",
    )  # fmt: skip
    assert read_closedqa("It does not name it.\nN\nN")[:2] == (False, 0.0)  # promptfoo's own reading
    assert read_closedqa('{"reasoning": "hmm", "answer": "maybe"}') is None
    assert read_closedqa("I cannot tell") is None


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"type": "llm-rubric"}, "'llm-rubric' needs the rubric as a non-empty string"),
        ({"type": "model-graded-closedqa", "value": ["a"]}, "needs the criterion as a non-empty string"),
        ({"type": "contains", "value": "polite", "provider": "openai:gpt-4o"}, "only model-graded assertions"),
        ({"type": "factuality", "value": "Paris"}, "not supported yet"),
        ({"type": "g-eval", "value": "clear"}, "not supported yet"),
    ],
)
def test_model_graded_assertions_need_their_rubric_and_only_they_name_a_grader(raw: dict, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_assertion(raw, where="assert")
    assert words in str(caught.value)


@pytest.mark.timeout(300)
def test_smollm2_grades_a_rubric_for_real(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARENA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")  # no Ollama: the embedded model only
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text(
        "prompts: ['Say hello.']\ntests:\n  - assert:\n      - type: llm-rubric\n        value: Contains a greeting\n"
    )
    report = tmp_path / "report"
    code, output = run(str(config), "-m", f"{SMOL}@num_predict=24", "--report-dir", str(report))

    assert code == 0, output
    result = grades(report, instance=SMOL)["t1"]["results"][0]
    assert result["type"] == "llm-rubric" and isinstance(result["pass"], bool) and result["reason"]
    assert "failed:" not in result["reason"]  # the grader ran; its verdict is SmolLM2's to give


GRADED_BY_CONFIG = """\
prompts: ["Why is the sky {{colour}}?"]
defaultTest:
  options:
    provider: {id: "openai:chat:ollama:judge:7b", config: {apiBaseUrl: "http://127.0.0.1:8000/v1", max_tokens: 200}}
tests:
  - vars: {colour: blue}
    assert:
      - type: llm-rubric
        value: Explains the colour politely
  - vars: {colour: red}
    assert:
      - type: llm-rubric
        value: Is a full essay
        provider: {id: "openai:chat:ollama:judge:7b", config: {max_tokens: 3}}
"""


def test_the_configs_grader_provider_grades_as_promptfoo_would_send_it_and_a_judge_wins(
    config: Path, judging: JudgingOllama, tmp_path: Path
) -> None:
    # Two different graders in one config: refused, naming the second
    config.write_text(GRADED_BY_CONFIG)
    code, output = run(str(config), "-m", LLAMA)
    assert code == 2 and "tests[1].assert[0].provider" in output and "one grader" in output, output
    config.write_text(GRADED_BY_CONFIG.replace("max_tokens: 3", "max_tokens: 200"))
    report = tmp_path / "report"
    code, output = run(str(config), "-m", LLAMA, "--report-dir", str(report))

    assert code == 0, output
    assert "cloud" not in output  # the config names its grader: no warning
    bodies = judging.judge_bodies()
    # The config's model at promptfoo's settings for it: temperature 0 (greedy), its max_tokens
    assert len(bodies) == 2 and all(b["model"] == "judge:7b" and b["options"]["num_predict"] == 200 for b in bodies)
    assert all(b["options"]["top_k"] == 1 for b in bodies)
    assert grades(report, instance=LLAMA)["t1"]["results"][0]["reason"] == "it explains Rayleigh scattering"
    code, output = run(str(config), "-m", LLAMA, "-m", QWEN, "--judge", JUDGE, "--judge-num-predict", "300")
    assert code == 0, output
    assert f"--judge {JUDGE} grades the model-graded assertions instead of the config's grader" in output
    assert {b["options"]["num_predict"] for b in judging.judge_bodies()[2:] if "<Rubric>" in str(b)} == {300}


def test_a_config_without_a_grader_is_warned_of_promptfoos_cloud_grader_and_a_cut_off_grader_says_so(
    config: Path, judging: JudgingOllama, tmp_path: Path
) -> None:
    code, output = run(str(config), "-m", LLAMA, "-m", QWEN, "--judge", JUDGE)

    assert code == 0, output
    assert "name no grader: promptfoo itself would send them to its default grader on OpenAI's cloud API" in output
    config.write_text(GRADED_BY_CONFIG.replace("max_tokens: 200", "max_tokens: 8").replace("max_tokens: 3", "max_tokens: 8"))
    code, output = run(str(config), "-m", LLAMA, "--report-dir", str(tmp_path / "r"))
    assert code == 0, output
    reason = grades(tmp_path / "r", instance=LLAMA)["t1"]["results"][0]["reason"]
    assert reason.startswith(UNREADABLE) and "cut off at its token limit (8 tokens)" in reason, reason
