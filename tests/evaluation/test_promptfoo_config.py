"""promptfoo configurations read as arena prompt sets: prompts × tests, providers as arena
instances, vars in templates and assertion values, and bad configs named by line and key path.
The configs are written from promptfoo's configuration guide."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.errors import InvalidInput
from arena.evaluation.bench.promptfoo_config import load_promptfoo_config, parse_promptfoo_config

GUIDE = """\
description: Translations
prompts:
  - "Translate to {{language}}: {{input}}"
  - id: file://prompts.txt
    label: polite
providers:
  - openai:chat:ollama:llama3.2:1b
  - id: local:smollm2-135m-instruct
    config:
      temperature: 0
      max_tokens: 64
      seed: 11
defaultTest:
  vars:
    language: French
  assert:
    - type: not-icontains
      value: sorry
tests:
  - description: greeting
    vars:
      input: Hello
    assert:
      - type: icontains
        value: bonjour
  - vars:
      input: [Thanks, Goodbye]
      language: German
    threshold: 0.5
"""


def parse(text: str) -> object:
    return parse_promptfoo_config(text.encode(), filename="promptfooconfig.yaml")


def test_a_config_from_the_guide_becomes_prompts_times_tests_with_their_assertions(tmp_path: Path) -> None:
    (tmp_path / "promptfooconfig.yaml").write_text(GUIDE)
    (tmp_path / "prompts.txt").write_text("Please say {{input}} in {{language}}.\n---\nKindly: {{input}}\n")
    suite = load_promptfoo_config(tmp_path / "promptfooconfig.yaml")

    assert suite.name == "Translations"
    items = suite.prompt_set.items
    # 3 prompts (the string, and the file's two, split at ---) × 3 tests (a list var makes two).
    assert [item.id for item in items[:3]] == ["p1-t1", "p1-t2", "p1-t3"] and len(items) == 9
    assert [item.turns[0] for item in items[:4]] == [
        "Translate to French: Hello",
        "Translate to German: Thanks",
        "Translate to German: Goodbye",
        "Please say Hello in French.",
    ]
    assert items[-1].turns == ["Kindly: Goodbye"]
    first, second = items[0].checks, items[1].checks
    assert first is not None and second is not None
    # defaultTest's assertions come first, then the test's own.
    assert [a["type"] for a in first["assert"]] == ["not-icontains", "icontains"]
    assert (first["description"], first["threshold"], second["threshold"]) == ("greeting", None, 0.5)
    assert items[3].checks is not None and items[3].checks["prompt"] == "polite"
    llama, smol = suite.instances
    assert (llama.model, llama.temperature, llama.seed) == ("ollama:llama3.2:1b", 0.7, 0)  # arena defaults
    # temperature 0 is greedy, as the gateway maps it; max_tokens is num_predict.
    assert (smol.model, smol.temperature, smol.top_k, smol.num_predict, smol.seed) == (
        "local:smollm2-135m-instruct", 0.01, 1, 64, 11,
    )  # fmt: skip


def test_assertion_values_are_rendered_with_the_test_vars() -> None:
    suite = parse(
        'prompts: ["Capital of {{country}}?"]\n'
        "tests:\n  - vars: {country: France, city: Paris}\n    assert:\n"
        "      - type: contains-all\n        value: ['{{city}}', '{{ country }}']\n"
    )
    checks = suite.prompt_set.items[0].checks  # type: ignore[attr-defined]
    assert checks["assert"][0]["value"] == ["Paris", "France"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("prompts: [a\n", "promptfooconfig.yaml: line 2, column 1: not valid YAML"),
        ("- just\n- a list\n", "a promptfoo config is a mapping"),
        ("providers: [ollama:x]\n", "promptfooconfig.yaml: prompts: missing"),
        (
            "prompts: [hi]\ntests:\n  - vars: {a: 1}\n    assert:\n      - type: javascript\n        value: output.length\n",
            "line 5: tests[0].assert[0]: assertion type 'javascript' runs code",
        ),
        (
            "prompts: [hi]\ntests:\n  - assert:\n      - type: contains\n        value: x\n        weight: lots\n",
            "line 6: tests[0].assert[0].weight: must be a number ≥ 0",
        ),
        (
            "prompts: [hi]\ntests:\n  - assert:\n      - type: g-eval\n        value: polite\n",
            "line 4: tests[0].assert[0]: assertion type 'g-eval' is not supported yet",
        ),
        ("prompts:\n  - 'Hi {{ name | upper }}'\n", "line 2: prompts[0]: '{{ name | upper }}': only plain variables"),
        ("prompts:\n  - '{% if x %}hi{% endif %}'\n", "line 2: prompts[0]: Nunjucks tags"),
        ("prompts: [hi]\nproviders:\n  - exec:./run.sh\n", "line 3: providers[0]: 'exec:./run.sh' runs code"),
        ("prompts: [hi]\nproviders:\n  - gpt-4o\n", "line 3: providers[0]: 'gpt-4o' is not an arena model"),
        (
            "prompts: [hi]\nproviders:\n  - id: ollama:x\n    config:\n      stop: ['\\n']\n",
            "line 5: providers[0].config.stop: not supported",
        ),
        ("prompts: [hi]\nscenarios: []\n", "line 2: scenarios: not supported by the arena"),
        ("prompts: [hi]\ntests: file://tests.csv\n", "line 2: tests: tests from a file are not supported yet"),
        ("prompts: [hi]\ntests:\n  - options: {}\n    provider: x\n", "line 4: tests[0].provider: not supported"),
        ("prompts:\n  - file://prompt.py\n", "line 2: prompts[0]: file:// prompts are read next to a config file"),
    ],
)
def test_a_bad_config_names_the_line_and_key(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(text)
    assert message in str(caught.value)


def test_script_prompt_files_are_refused_next_to_a_config_too(tmp_path: Path) -> None:
    (tmp_path / "promptfooconfig.yaml").write_text("prompts:\n  - file://prompt.py\n")
    (tmp_path / "prompt.py").write_text("def prompt(context): return 'hi'\n")
    with pytest.raises(InvalidInput, match=r"line 2: prompts\[0\]: only text prompt files are read"):
        load_promptfoo_config(tmp_path / "promptfooconfig.yaml")


def test_a_filter_in_an_assertion_value_is_refused_like_one_in_a_prompt() -> None:
    with pytest.raises(InvalidInput, match=r"line 5: tests\[0\]\.assert\[0\]\.value: '\{\{ city \| lower \}\}': only plain"):
        parse("prompts: [hi]\ntests:\n  - assert:\n      - type: contains\n        value: '{{ city | lower }}'\n")
