"""promptfoo, the evaluation CLI, against the arena's OpenAI-compatible gateway: its
`openai:chat:<arena model id>` provider with `apiBaseUrl` pointed at the arena, deterministic
assertions, and its JSON results read back (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory
from tests.support.promptfoo import promptfoo, run_promptfoo

# The first run may install promptfoo into its cache (minutes, once): .ci/run does that beforehand.
pytestmark = pytest.mark.timeout(900)

__all__ = ["promptfoo"]  # the session fixture, imported to be used here
TOKEN = "promptfoo-reads-this-as-its-openai-api-key"
# promptfoo exits with this when an assertion failed (PROMPTFOO_FAILED_TEST_EXIT_CODE).
FAILED_TESTS_EXIT = 100
# Why a result did not pass (its `failureReason`): none, an assertion, or an error calling the provider.
PASSED, ASSERTION_FAILED, PROVIDER_ERROR = 0, 1, 2

CONFIG = """\
description: The arena's gateway, seen from promptfoo
prompts:
  - "Why is the sky {{{{colour}}}}?"
providers:
  - id: openai:chat:ollama:llama3.2:1b
    config:
      apiBaseUrl: {url}/v1
      apiKey: {token}
      temperature: 0
      seed: 7
      max_tokens: 64
tests:
  - description: passes
    vars:
      colour: blue
    assert:
      - type: contains
        value: Rayleigh
      - type: icontains
        value: THE SKY IS BLUE
      - type: regex
        value: "^The sky is \\\\w+"
  - description: fails
    vars:
      colour: green
    assert:
      - type: not-contains
        value: blue
"""


def test_promptfoo_evaluates_an_arena_model_through_the_gateway(
    promptfoo: Path, double: OllamaDouble, arena_factory: ArenaFactory, tmp_path: Path
) -> None:
    arena = arena_factory(web_chat_token=TOKEN, ollama_hosts=[double.url], embedded_enabled=False)
    (tmp_path / "promptfooconfig.yaml").write_text(CONFIG.format(url=arena.url, token=TOKEN))
    done = run_promptfoo(
        promptfoo, ["eval", "-c", "promptfooconfig.yaml", "-o", "results.json", "--no-cache", "--no-table",
                    "--no-progress-bar", "-j", "1"], state_dir=tmp_path,
    )  # fmt: skip
    assert done.returncode == FAILED_TESTS_EXIT, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    by_test = {r["testCase"]["description"]: r for r in results["results"]}
    assert set(by_test) == {"passes", "fails"}
    passing, failing = by_test["passes"], by_test["fails"]
    assert passing["response"]["output"] == "The sky is blue — Rayleigh scattering."
    assert (passing["success"], passing["failureReason"]) == (True, PASSED)
    assert [c["pass"] for c in passing["gradingResult"]["componentResults"]] == [True, True, True]
    assert (failing["success"], failing["failureReason"]) == (False, ASSERTION_FAILED)  # the call itself worked
    assert failing["error"] == 'Expected output to not contain "blue"'
    # The gateway's usage, as promptfoo counted it: the engine's tokens.
    assert passing["response"]["tokenUsage"]["completion"] == 8 and passing["response"]["tokenUsage"]["prompt"] == 26
    assert (results["stats"]["successes"], results["stats"]["failures"]) == (1, 1)
    # What reached the engine: the rendered prompt, and promptfoo's settings as the arena's.
    sent = [body for body in double.bodies("/api/chat") if "blue" in body["messages"][-1]["content"]][-1]
    assert sent["messages"] == [{"role": "user", "content": "Why is the sky blue?"}]
    assert sent["options"] == {"temperature": 0.01, "top_p": 0.9, "top_k": 1, "repeat_penalty": 1.1, "num_predict": 64, "seed": 7}


def test_promptfoo_reports_a_refused_token_as_an_error(
    promptfoo: Path, double: OllamaDouble, arena_factory: ArenaFactory, tmp_path: Path
) -> None:
    arena = arena_factory(web_chat_token=TOKEN, ollama_hosts=[double.url], embedded_enabled=False)
    (tmp_path / "promptfooconfig.yaml").write_text(CONFIG.format(url=arena.url, token="not-the-token"))
    done = run_promptfoo(
        promptfoo, ["eval", "-c", "promptfooconfig.yaml", "-o", "results.json", "--no-cache", "--no-table",
                    "--no-progress-bar", "-j", "1"], state_dir=tmp_path,
    )  # fmt: skip
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    # (promptfoo may stop at the first 401: no point asking again with the same key)
    reasons = [r["failureReason"] for r in results["results"]]
    assert reasons and set(reasons) == {PROVIDER_ERROR}, done.stderr[-3000:]
    for result in results["results"]:  # the gateway's status and OpenAI-shaped error, as promptfoo shows them
        assert result["error"].startswith("API error: 401 Unauthorized")
        assert json.loads(result["error"].split("\n", 1)[1])["error"]["code"] == "invalid_api_key"
    assert double.bodies("/api/chat") == []
