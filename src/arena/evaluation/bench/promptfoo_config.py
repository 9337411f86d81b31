"""A promptfoo configuration (promptfooconfig.yaml) read as an arena benchmark.

    suite = load_promptfoo_config(path)   # PromptfooSuite: a PromptSet, its instances, a name
    create_run(database=db, spec=BenchSpec(instances=suite.instances, ...), prompt_set=suite.prompt_set)

What is read: ``prompts`` (bench/promptfoo_prompts.py: strings, files, chat-format messages;
`{{var}}` templates), ``providers`` (bench/promptfoo_providers.py: arena models, with the settings
promptfoo would send), ``tests`` (``vars``, a list value expanding into one test per value as in
promptfoo, ``assert``, ``threshold``, ``description``, ``options.prefix/suffix``), ``defaultTest``,
``description``, and ``env``'s OPENAI_* defaults. Each prompt × test is one prompt of the set,
carrying its rendered assertions (``PromptItem.checks``); plan makes it one item per instance.
Anything else, and anything that would run code, is refused naming the line and the key path;
keys that cannot change a result (``sharing``, ``outputPath``, ``tags``, …) are passed over.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from arena.errors import InvalidInput, NotFound
from arena.evaluation.bench.prompt_sets import PromptItem, PromptSet
from arena.evaluation.bench.promptfoo_asserts import GRADED_TYPES, normalize_assertion
from arena.evaluation.bench.promptfoo_grader import grader_of
from arena.evaluation.bench.promptfoo_prompts import chat_of, read_prompts
from arena.evaluation.bench.promptfoo_providers import parse_providers
from arena.evaluation.bench.promptfoo_template import check_template, render, render_prompt
from arena.evaluation.bench.promptfoo_yaml import KeyPath, Located, check_size
from arena.evaluation.conversation.instances import ModelInstance

SUFFIXES: Final = (".yaml", ".yml")
TOP_KEYS: Final = frozenset({"description", "prompts", "providers", "tests", "defaultTest", "env", "evaluateOptions"})
IGNORED_KEYS: Final = frozenset({"sharing", "outputPath", "writeLatestResults", "tags", "metadata"})
TEST_KEYS: Final = frozenset({"description", "vars", "assert", "threshold", "metadata", "options"})
# Test options that change nothing the arena grades, and those it honours
TEST_OPTIONS: Final = frozenset({"prefix", "suffix", "disableVarExpansion", "runSerially", "provider"})
REFUSED_OPTIONS: Final = {
    "transform": "runs JavaScript on the answer; the arena never runs code from a config",
    "postprocess": "runs JavaScript on the answer; the arena never runs code from a config",
    "rubricPrompt": "the arena grades with its own rubric prompt; leave it out",
}
# evaluateOptions that only pace promptfoo's own run; `repeat` would change the results
EVALUATE_OPTIONS: Final = frozenset({"maxConcurrency", "delay", "showProgressBar", "cache", "timeoutMs"})
MAX_TESTS: Final = 10_000


@dataclass(frozen=True, kw_only=True)
class PromptfooSuite:
    name: str
    prompt_set: PromptSet
    instances: list[ModelInstance]  # from providers; empty when the config names none


def load_promptfoo_config(path: str | Path, *, process_env: Mapping[str, str] | None = None) -> PromptfooSuite:
    """process_env: the CLI's environment, for promptfoo's OPENAI_* defaults (the config's env wins)."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"promptfoo config not found: {path}")
    return parse_promptfoo_config(path.read_bytes(), filename=path.name, base_dir=path.parent, process_env=process_env)


def parse_promptfoo_config(
    data: bytes, *, filename: str, base_dir: Path | None = None, process_env: Mapping[str, str] | None = None
) -> PromptfooSuite:
    """base_dir: where `file://` prompts are read from; None (an upload) refuses them. process_env:
    the environment promptfoo would read OPENAI_* from; None (an upload: never the server's) reads none."""
    try:
        text = data.decode("utf-8-sig")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        config = yaml.safe_load(text)
    except UnicodeDecodeError:
        raise InvalidInput(f"{filename}: not valid UTF-8; save the file as UTF-8") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise InvalidInput(f"{filename}: {at}not valid YAML ({exc.problem or exc})") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{filename}: not valid YAML ({exc})") from None
    at = Located(node, filename)
    check_size(node, at)
    if not isinstance(config, dict):
        raise at.error([], "a promptfoo config is a mapping with prompts, providers and tests")
    for key in config:
        if key not in TOP_KEYS | IGNORED_KEYS:
            raise at.error([key], "not supported by the arena (it reads description, prompts, providers, tests, defaultTest)")
    _check_evaluate_options(config.get("evaluateOptions"), at)
    env = config.get("env") or {}
    if not isinstance(env, dict):
        raise at.error(["env"], "must be a mapping of names to values")
    prompts, prompt_bytes = read_prompts(config.get("prompts"), at, base_dir)
    tests = _tests(config, at)
    grader = grader_of(config, at, env, process_env)  # promptfoo's grader for llm-rubric / closedqa
    items: list[PromptItem] = []
    for p, (label, template) in enumerate(prompts, start=1):
        for t, test in enumerate(tests, start=1):
            identifier = f"t{t}" if len(prompts) == 1 else f"p{p}-t{t}"
            where: KeyPath = ["prompts", min(p - 1, len(config["prompts"]) - 1)] if isinstance(config["prompts"], list) else ["prompts"]
            chat = chat_of(render_prompt(test["prefix"] + template + test["suffix"], test["vars"]), at, where)
            if not chat.turn.strip():
                raise at.error(where, f"renders empty for test {t}")
            checks = {
                "description": test["description"],
                "prompt": label,
                "vars": test["vars"],
                "threshold": test["threshold"],
                "assert": [
                    {**a, "value": _render_value(a["value"], test["vars"])} for a in test["assert"]
                ],
                **({"system": chat.system} if chat.system else {}),
                **({"history": chat.history} if chat.history else {}),
            }
            if grader is not None and any(a["base"] in GRADED_TYPES for a in test["assert"]):
                checks["grader"] = grader
            items.append(PromptItem(id=identifier, turns=[chat.turn], checks=checks))
    name = config.get("description") if isinstance(config.get("description"), str) else None
    name = (name or Path(filename).stem)[:200]
    digest = hashlib.sha256(data + prompt_bytes).hexdigest()
    return PromptfooSuite(
        name=name,
        prompt_set=PromptSet(name=name, items=items, sha256=digest),
        instances=parse_providers(config.get("providers"), at, env, process_env),
    )


def _check_evaluate_options(options: Any, at: Located) -> None:
    if options is None:
        return
    if not isinstance(options, dict):
        raise at.error(["evaluateOptions"], "must be a mapping")
    for key, value in options.items():
        if key == "repeat" and value in (None, 1):
            continue
        if key == "repeat":
            raise at.error(["evaluateOptions", key], "give the repeats to the arena instead: arena bench run --repeats N")
        if key not in EVALUATE_OPTIONS:
            raise at.error(["evaluateOptions", key], f"not supported (the arena reads {', '.join(sorted(EVALUATE_OPTIONS))} and ignores them)")


def _render_value(value: Any, variables: dict[str, Any]) -> Any:
    """Assertion values are templates too (promptfoo renders them with the test's vars)."""
    if isinstance(value, str):
        return render(value, variables)
    if isinstance(value, list):
        return [_render_value(v, variables) for v in value]
    return value


def _tests(config: dict[str, Any], at: Located) -> list[dict[str, Any]]:
    default = config.get("defaultTest") or {}
    if not isinstance(default, dict):
        raise at.error(["defaultTest"], "must be a mapping (vars, assert, threshold)")
    _check_keys(default, ["defaultTest"], at)
    raw = config.get("tests")
    if raw is None:
        raw = [{}]
    if isinstance(raw, str):
        raise at.error(["tests"], "tests from a file are not supported yet: list them in the config")
    if not isinstance(raw, list) or not raw:
        raise at.error(["tests"], "must be a non-empty list of tests")
    tests: list[dict[str, Any]] = []
    for index, test in enumerate(raw):
        if not isinstance(test, dict):
            raise at.error(["tests", index], "a test is a mapping (vars, assert, description)")
        _check_keys(test, ["tests", index], at)
        variables = {**_vars(default, ["defaultTest"], at), **_vars(test, ["tests", index], at)}
        asserts = [
            *_asserts(default, ["defaultTest"], at),
            *_asserts(test, ["tests", index], at),
        ]
        threshold = test.get("threshold", default.get("threshold"))
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
            raise at.error(["tests", index, "threshold"], "must be a number")
        description = str(test.get("description") or f"test {index + 1}")
        options = {**_options(default, ["defaultTest"], at), **_options(test, ["tests", index], at)}
        # A list value makes one test per value (every combination), as promptfoo does.
        expand = not options.get("disableVarExpansion")
        keys = [k for k, v in variables.items() if isinstance(v, list)] if expand else []
        for combo in itertools.product(*(variables[k] for k in keys)):
            tests.append(
                {
                    "description": description,
                    "vars": {**variables, **dict(zip(keys, combo, strict=True))},
                    "assert": asserts,
                    "threshold": threshold,
                    "prefix": str(options.get("prefix") or ""),
                    "suffix": str(options.get("suffix") or ""),
                }
            )
            if len(tests) > MAX_TESTS:
                raise at.error(["tests"], f"more than {MAX_TESTS} tests once list vars are expanded")
    return tests


def _check_keys(test: dict[str, Any], where: KeyPath, at: Located) -> None:
    for key in test:
        if key not in TEST_KEYS:
            raise at.error([*where, key], f"not supported in a test (use {', '.join(sorted(TEST_KEYS))})")


def _options(test: dict[str, Any], where: KeyPath, at: Located) -> dict[str, Any]:
    options = test.get("options") or {}
    if not isinstance(options, dict):
        raise at.error([*where, "options"], "must be a mapping")
    for key, value in options.items():
        if key in REFUSED_OPTIONS:
            raise at.error([*where, "options", key], REFUSED_OPTIONS[key])
        if key not in TEST_OPTIONS:
            raise at.error([*where, "options", key], f"not supported (use {', '.join(sorted(TEST_OPTIONS))})")
        if key in ("prefix", "suffix") and not isinstance(value, str):
            raise at.error([*where, "options", key], "must be a string")
    return options


def _vars(test: dict[str, Any], where: KeyPath, at: Located) -> dict[str, Any]:
    variables = test.get("vars") or {}
    if not isinstance(variables, dict):
        raise at.error([*where, "vars"], "must be a mapping of names to values")
    for name, value in variables.items():
        if isinstance(value, str) and value.startswith("file://"):
            raise at.error([*where, "vars", name], "file:// vars are not supported (they may be scripts)")
    return variables


def _asserts(test: dict[str, Any], where: KeyPath, at: Located) -> list[dict[str, Any]]:
    raw = test.get("assert") or []
    if not isinstance(raw, list):
        raise at.error([*where, "assert"], "must be a list of assertions")
    normalized = []
    for index, assertion in enumerate(raw):
        path = [*where, "assert", index]
        try:
            normalized.append(normalize_assertion(assertion, where="assert"))
            for text in _strings(assertion.get("value")):
                check_template(text, where="assert.value")
        except InvalidInput as exc:
            detail = str(exc).removeprefix("assert")
            key = detail[1:].split(":", 1)[0] if detail.startswith(".") else None
            raise at.error([*path, key] if key else path, detail.split(": ", 1)[-1]) from None
    return normalized


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
