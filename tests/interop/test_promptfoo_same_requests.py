"""One promptfoo config that leaves its settings out and holds a chat-format prompt: the promptfoo
CLI (through the arena's /v1 gateway) and `arena bench run` send the engine the very same
messages and sampling options (issue 16: promptfoo's defaults, chat prompts, vars rendered inside
a chat prompt); and promptfoo sends an llm-rubric to the grader its options.provider names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from arena.cli.bench import bench_app
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import ArenaFactory
from tests.support.promptfoo import promptfoo, run_promptfoo

pytestmark = pytest.mark.timeout(900)  # the first run may install promptfoo (.ci/run does it beforehand)

__all__ = ["promptfoo"]
TOKEN = "promptfoo-reads-this-as-its-openai-api-key"
CONFIG = """\
prompts:
  - file://chat.json
providers:
  - id: openai:chat:ollama:llama3.2:1b
    label: llama
    config:
      apiBaseUrl: {url}/v1
      apiKey: {token}
tests:
  - vars: {{colour: "{{{{shade}}}} \\"blue\\"\\nand more", shade: deep, tags: [a, b], meta: {{k: v}}}}
    options: {{suffix: ' Answer briefly.', disableVarExpansion: true}}
"""
GRADED = """\
    options:
      disableVarExpansion: true
      provider: {{id: openai:chat:ollama:qwen2.5:0.5b, config: {{apiBaseUrl: {url}/v1, apiKey: {token}}}}}
    assert:
      - type: llm-rubric
        value: Is polite
"""
CHAT = (
    '[{"role": "system", "content": "You explain physics."}, {"role": "user", "content": "Why is grass green?"},'
    ' {"role": "assistant", "content": "Chlorophyll."}, {"role": "user", "content": "Why is the sky {{colour}}?"}]'
)


def engine_request(body: dict[str, Any]) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """What the model was asked, and with which settings; the seed aside (random without one)."""
    options = {name: value for name, value in body["options"].items() if name != "seed"}
    return [(m["role"], m["content"]) for m in body["messages"]], options


def test_promptfoo_and_a_bench_run_send_the_engine_the_same_request(
    promptfoo: Path, double: OllamaDouble, arena_factory: ArenaFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arena = arena_factory(web_chat_token=TOKEN, ollama_hosts=[double.url], embedded_enabled=False)
    (tmp_path / "promptfooconfig.yaml").write_text(CONFIG.format(url=arena.url, token=TOKEN))
    # The suffix goes after the template, which then is no JSON: promptfoo sends it as one message.
    (tmp_path / "chat.json").write_text(CHAT)
    done = run_promptfoo(
        promptfoo, ["eval", "-c", "promptfooconfig.yaml", "--no-cache", "--no-table", "--no-progress-bar", "-j", "1"],
        state_dir=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (theirs,) = double.bodies("/api/chat")

    monkeypatch.setenv("OLLAMA_HOST", double.url)
    monkeypatch.setenv("ARENA_EMBEDDED", "0")
    monkeypatch.setenv("ARENA_DATA_DIR", str(tmp_path / "bench-data"))
    ran = CliRunner().invoke(bench_app, ["run", str(tmp_path / "promptfooconfig.yaml"), "--quiet"], env={"COLUMNS": "200"})
    assert ran.exit_code == 0, ran.output
    ours = double.bodies("/api/chat")[-1]

    assert engine_request(ours) == engine_request(theirs)
    messages, options = engine_request(ours)
    # promptfoo sends a .json prompt file compacted (JSON.stringify of it), then the suffix.
    assert messages[-1][1].startswith('[{"role":"system","content":"You explain physics."},')
    assert messages[-1][1].endswith('"Why is the sky deep "blue"\nand more?"}] Answer briefly.')
    # promptfoo's defaults for what the config leaves out: temperature 0 (greedy), 1024 tokens.
    assert (options["top_k"], options["num_predict"]) == (1, 1024)

    # Without the suffix the rendered prompt is JSON: a chat, sent as its messages, both ways, with
    # vars rendered inside its strings (a quote, a newline, a var naming a var, a list, an object),
    # and the rubric graded by the config's own grader through the gateway, never promptfoo's cloud one.
    (tmp_path / "promptfooconfig.yaml").write_text(
        CONFIG.format(url=arena.url, token=TOKEN).replace(
            "    options: {suffix: ' Answer briefly.', disableVarExpansion: true}\n", GRADED.format(url=arena.url, token=TOKEN)
        )
    )
    (tmp_path / "chat.json").write_text(CHAT.replace("{{colour}}?", "{{colour}}? {{tags}} {{meta}}"))
    done = run_promptfoo(
        promptfoo, ["eval", "-c", "promptfooconfig.yaml", "--no-cache", "--no-table", "--no-progress-bar", "-j", "1"],
        state_dir=tmp_path,
    )  # fmt: skip
    # The grader cannot read the double's answer: the rubric fails, in promptfoo as in the arena
    assert done.returncode == 100, done.stdout[-3000:] + done.stderr[-3000:]
    theirs, their_grading = double.bodies("/api/chat")[-2:]
    ran = CliRunner().invoke(bench_app, ["run", str(tmp_path / "promptfooconfig.yaml"), "--quiet"], env={"COLUMNS": "200"})
    assert ran.exit_code == 0, ran.output
    ours, our_grading = double.bodies("/api/chat")[-2:]
    assert engine_request(ours) == engine_request(theirs)
    assert engine_request(ours)[0] == [
        ("system", "You explain physics."), ("user", "Why is grass green?"), ("assistant", "Chlorophyll."),
        ("user", 'Why is the sky deep "blue"\nand more? a,b [object Object]'),
    ]  # fmt: skip
    for grading in (their_grading, our_grading):
        assert grading["model"] == "qwen2.5:0.5b" and "<Rubric>\nIs polite\n</Rubric>" in grading["messages"][-1]["content"]
