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
    # promptfoo's labels: a labelled .txt file's prompts are told apart by their text
    labels = [item.checks["prompt"] for item in items[::3] if item.checks]
    assert labels == ["Translate to {{language}}: {{input}}", "polite: prompts.txt: Please say {{input}} in {{language}}.",
                      "polite: prompts.txt: Kindly: {{input}}"]  # fmt: skip
    llama, smol = suite.instances
    # What promptfoo's OpenAI provider sends for settings left out: temperature 0 (greedy) and
    # max_tokens 1024, no top_p — so `promptfoo eval` against /v1 and `arena bench run` use the same.
    assert (llama.model, llama.temperature, llama.top_k, llama.top_p, llama.num_predict, llama.seed) == (
        "ollama:llama3.2:1b", 0.01, 1, 0.9, 1024, 0
    )
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
            "line 5: providers[0].config.stop: stop sequences are not among the arena's sampling settings",
        ),
        (
            "prompts: [hi]\nproviders:\n  - id: openai:chat:local:x\n    config:\n      max_tokens: 5000\n",
            "line 4: providers[0].config: max_tokens: at most 4096",
        ),
        (
            "prompts: [hi]\nproviders:\n  - id: openai:chat:local:x\n    config:\n      seed: 0\n",
            "line 5: providers[0].config.seed: the arena's seeds start at 1",
        ),
        (
            "prompts: [hi]\nproviders:\n  - id: openai:chat:local:x\n    config:\n      response_format: {type: json_object}\n",
            "line 5: providers[0].config.response_format: the bench cannot constrain",
        ),
        ("prompts: [hi]\nproviders: [openai:gpt-4o-mini]\n", "'openai:gpt-4o-mini' is promptfoo's provider for a cloud"),
        ("prompts: [hi]\nproviders: [openai:completion:local:x]\n", "serves chat completions"),
        # promptfoo reads openai:<type>:<model>: it would send the model "local"
        ("prompts: [hi]\nproviders: [openai:local:x]\n", "providers[0]: 'openai:local:x': promptfoo would send the model as 'local'; use openai:chat:local:x"),
        (
            "prompts: [hi]\nproviders:\n  - id: openai:chat:local:x\n    config:\n      max_completion_tokens: 64\n",
            "line 5: providers[0].config.max_completion_tokens: use max_tokens (promptfoo sends max_tokens for this model)",
        ),
        (
            "prompts: [hi]\nproviders:\n  - id: ollama:chat:llama3.2:1b\n    config:\n      num_ctx: 4096\n",
            "line 5: providers[0].config.num_ctx: not among the arena's sampling settings (use num_predict, repeat_penalty, seed,",
        ),
        (
            "prompts: [hi]\nproviders:\n  - id: ollama:chat:llama3.2:1b\n    config:\n      max_tokens: 9\n",
            "line 5: providers[0].config.max_tokens: not an Ollama option the arena reads",
        ),
        (
            "prompts: [hi]\ntests:\n  - assert:\n      - type: regex\n        value: '(?i)hello'\n",
            "line 5: tests[0].assert[0].value: JavaScript has no inline flags like (?i): use icontains",
        ),
        (
            "prompts: [hi]\ntests:\n  - assert:\n      - type: not-regex\n        value: '(?P<word>\\w+)'\n",
            "tests[0].assert[0].value: (?P…) named groups are Python's",
        ),
        ("prompts: [hi]\ntests:\n  - assert:\n      - {type: regex, value: '\\Ahi'}\n", "\\A is not JavaScript"),
        ("prompts: [hi]\ntests:\n  - assert:\n      - {type: regex, value: '(?>a+)b'}\n", "atomic groups"),
        ("prompts: [hi]\ntests:\n  - assert:\n      - {type: regex, value: 'a++b'}\n", "possessive quantifiers"),
        (
            "prompts: [hi]\ntests:\n  - assert:\n      - type: contains\n        value: x\n        transform: output.trim()\n",
            "line 6: tests[0].assert[0].transform: runs JavaScript",
        ),
        (
            "prompts: [hi]\ntests:\n  - options:\n      transform: output.trim()\n",
            "line 4: tests[0].options.transform: runs JavaScript",
        ),
        ("prompts:\n  - raw: hi\n    config: {temperature: 1}\n", "line 3: prompts[0].config: per-prompt provider settings"),
        ("prompts: [hi]\nevaluateOptions:\n  repeat: 3\n", "line 3: evaluateOptions.repeat: give the repeats to the arena"),
        ("prompts:\n  - '[{\"role\": \"user\", \"content\": \"hi\"]'\n  - x\n", "prompts[0]: looks like a chat-format"),
        (
            "prompts:\n  - '[{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"x\"}]'\n",
            "prompts[0]: a chat prompt must end with a non-empty user message",
        ),
        ("prompts: [hi]\nscenarios: []\n", "line 2: scenarios: not supported by the arena"),
        ("prompts: [hi]\ntests: file://tests.csv\n", "line 2: tests: tests from a file are not supported yet"),
        ("prompts: [hi]\ntests:\n  - options: {}\n    provider: x\n", "line 4: tests[0].provider: not supported"),
        (
            "prompts: [hi]\ndefaultTest:\n  options:\n    provider: openai:gpt-4o\n",
            "line 4: defaultTest.options.provider: 'openai:gpt-4o' is promptfoo's provider for a cloud OpenAI model",
        ),
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
    with pytest.raises(InvalidInput, match=r"line 2: prompts\[0\]: prompt files are text .* or chat .*; scripts never run"):
        load_promptfoo_config(tmp_path / "promptfooconfig.yaml")


def test_chat_format_prompts_become_system_few_shot_and_the_turn(tmp_path: Path) -> None:
    # As promptfoo's OpenAI provider reads them: a rendered prompt that is a JSON list of
    # messages is sent as those messages, in a .json file or inline, with vars rendered inside.
    (tmp_path / "promptfooconfig.yaml").write_text(
        "prompts:\n  - file://chat.json\n  - file://chat.yaml\n  - '[INST] {{q}} [/INST]'\n"
        "tests:\n  - vars: {q: 'Capital of France?'}\n"
    )
    (tmp_path / "chat.json").write_text(
        '[{"role": "system", "content": "You are terse."}, {"role": "user", "content": "2+2?"},'
        ' {"role": "assistant", "content": "4"}, {"role": "user", "content": "{{q}}"}]'
    )
    (tmp_path / "chat.yaml").write_text("- role: user\n  content: '{{q}}'\n")
    items = load_promptfoo_config(tmp_path / "promptfooconfig.yaml").prompt_set.items
    json_item, yaml_item, text_item = items
    assert json_item.turns == ["Capital of France?"] and json_item.checks is not None
    assert json_item.checks["system"] == "You are terse."
    assert json_item.checks["history"] == [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]
    assert yaml_item.turns == ["Capital of France?"] and yaml_item.checks is not None
    assert "system" not in yaml_item.checks and "history" not in yaml_item.checks
    assert text_item.turns == ["[INST] Capital of France? [/INST]"]  # not JSON by promptfoo's own test: text
    # A test's prefix and suffix go around the prompt before it is rendered.
    (item,) = parse("prompts: ['{{q}}']\ntests:\n  - vars: {q: hi}\n    options: {prefix: 'Q: ', suffix: ' A:'}\n").prompt_set.items  # type: ignore[attr-defined]
    assert item.turns == ["Q: hi A:"]


def test_a_filter_in_an_assertion_value_is_refused_like_one_in_a_prompt() -> None:
    with pytest.raises(InvalidInput, match=r"line 5: tests\[0\]\.assert\[0\]\.value: '\{\{ city \| lower \}\}': only plain"):
        parse("prompts: [hi]\ntests:\n  - assert:\n      - type: contains\n        value: '{{ city | lower }}'\n")


def test_prompts_render_as_promptfoos_render_prompt() -> None:
    config = (
        "prompts:\n  - '[{\"role\": \"user\", \"content\": \"Say: {{q}}\"}]'\n  - 'Q: {{q}} | {{tags}} | {{meta}}'\n"
        "tests:\n  - vars:\n      q: \"Hi {{name}}, \\\"quoted\\\"\\nand a new line\"\n      name: Ada\n"
        "      tags: [a, b]\n      meta: {k: v}\n    options: {disableVarExpansion: true}\n"
    )
    chat, text = parse(config).prompt_set.items  # type: ignore[attr-defined]
    # A JSON (chat) prompt: the value lands inside the JSON string escaped, quote and newline kept;
    # a var naming another var is filled in first.
    assert chat.turns == ['Say: Hi Ada, "quoted"\nand a new line']
    # A list var renders as JavaScript joins it, an object as JavaScript's String() prints it.
    assert text.turns == ['Q: Hi Ada, "quoted"\nand a new line | a,b | [object Object]']


def test_prompt_file_globs_read_every_match_sorted_with_promptfoos_labels(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "b.txt").write_text("Second {{x}}\r\n --- \r\nThird {{x}}\n")
    (tmp_path / "prompts" / "a.txt").write_text("First {{x}}\n")
    (tmp_path / "promptfooconfig.yaml").write_text("prompts: [file://prompts/*.txt]\ntests:\n  - vars: {x: go}\n")
    items = load_promptfoo_config(tmp_path / "promptfooconfig.yaml").prompt_set.items
    assert [item.turns[0] for item in items] == ["First go", "Second go", "Third go"]
    assert [item.checks["prompt"] for item in items if item.checks] == [
        "prompts/a.txt: First {{x}}", "prompts/b.txt: Second {{x}}", "prompts/b.txt: Third {{x}}",
    ]  # fmt: skip
    (tmp_path / "promptfooconfig.yaml").write_text("prompts:\n  - file://missing/*.txt\n")
    with pytest.raises(InvalidInput, match=r"line 2: prompts\[0\]: no prompt file matches 'missing/\*.txt'"):
        load_promptfoo_config(tmp_path / "promptfooconfig.yaml")


def test_openai_defaults_come_from_the_cli_environment_under_the_configs_env(monkeypatch: pytest.MonkeyPatch) -> None:
    config = b"prompts: [hi]\nproviders: [openai:chat:local:x]\nenv: {OPENAI_TEMPERATURE: 0.5}\n"
    environment = {"OPENAI_TEMPERATURE": "1.5", "OPENAI_MAX_TOKENS": "77", "OPENAI_TOP_P": "0.25"}
    (instance,) = parse_promptfoo_config(config, filename="c.yaml", process_env=environment).instances
    # promptfoo's getEnvString: the config's env first, then the process's
    assert (instance.temperature, instance.num_predict, instance.top_p) == (0.5, 77, 0.25)
    # An upload passes no environment: the server's own never reaches a run
    monkeypatch.setenv("OPENAI_MAX_TOKENS", "77")
    (uploaded,) = parse_promptfoo_config(config, filename="c.yaml").instances
    assert uploaded.num_predict == 1024
    omitted = b"prompts: [hi]\nproviders:\n  - id: openai:chat:local:x\n    config: {omitDefaults: true}\n"
    (bare,) = parse_promptfoo_config(omitted, filename="c.yaml", process_env={"OPENAI_MAX_TOKENS": "33"}).instances
    assert (bare.num_predict, bare.temperature) == (33, 0.7)  # omitDefaults: only what the environment names


def test_ollama_providers_map_ollamas_own_options() -> None:
    config = (
        "prompts: [hi]\nproviders:\n  - id: ollama:chat:llama3.2:1b\n    config:\n"
        "      {num_predict: 50, temperature: 0.2, top_k: 7, top_p: 0.5, repeat_penalty: 1.3, seed: 4}\n"
    )
    (instance,) = parse(config).instances  # type: ignore[attr-defined]
    assert (instance.model, instance.num_predict, instance.temperature, instance.top_k) == ("ollama:llama3.2:1b", 50, 0.2, 7)
    assert (instance.top_p, instance.repeat_penalty, instance.seed) == (0.5, 1.3, 4)
