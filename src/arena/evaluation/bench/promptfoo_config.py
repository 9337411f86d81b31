"""A promptfoo configuration (promptfooconfig.yaml) read as an arena benchmark.

    suite = load_promptfoo_config(path)   # PromptfooSuite: a PromptSet, its instances, a name
    create_run(database=db, spec=BenchSpec(instances=suite.instances, ...), prompt_set=suite.prompt_set)

What is read: ``prompts`` (strings, or ``file://`` text files next to the config; `{{var}}`
templates), ``providers`` (``openai:chat:<arena id>`` with any ``apiBaseUrl``, or an arena id;
``config`` temperature, top_p, max_tokens and seed as the gateway maps them), ``tests`` (``vars``,
a list value expanding into one test per value as in promptfoo, ``assert``, ``threshold``,
``description``), ``defaultTest`` and ``description``. Each prompt × test is one prompt of the set,
carrying its rendered assertions (``PromptItem.checks``); plan makes it one item per instance.
Anything else, and anything that would run code, is refused naming the line and the key path.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from arena.errors import InvalidInput, NotFound
from arena.evaluation.bench.prompt_sets import PromptItem, PromptSet
from arena.evaluation.bench.promptfoo_asserts import normalize_assertion
from arena.evaluation.bench.promptfoo_template import check_template, render
from arena.evaluation.conversation.instances import ModelInstance
from arena.evaluation.gateway import NAMESPACES, sampling_options

SUFFIXES: Final = (".yaml", ".yml")
TOP_KEYS: Final = frozenset({"description", "prompts", "providers", "tests", "defaultTest"})
IGNORED_KEYS: Final = frozenset({"sharing", "outputPath", "writeLatestResults", "tags", "evaluateOptions", "env"})
TEST_KEYS: Final = frozenset({"description", "vars", "assert", "threshold", "metadata", "options"})
PROVIDER_OPTIONS: Final = frozenset({"apiBaseUrl", "apiKey", "apiKeyEnvar", "temperature", "top_p", "max_tokens", "seed"})
CODE_PROVIDERS: Final = ("exec:", "python:", "file://", "golang:", "ruby:", "http:", "https:", "webhook:", "script:")
PROMPT_FILE_SUFFIXES: Final = (".txt", ".md", ".j2", ".nunjucks")
MAX_TESTS: Final = 10_000
MAX_NODES: Final = 200_000  # YAML nodes with aliases followed: anchors may share, never explode


@dataclass(frozen=True, kw_only=True)
class PromptfooSuite:
    name: str
    prompt_set: PromptSet
    instances: list[ModelInstance]  # from providers; empty when the config names none


class _Located:
    """Key paths to line numbers, from the YAML's node tree: 'tests[2].assert[0].type' → 7."""

    def __init__(self, node: yaml.Node | None, filename: str) -> None:
        self.node, self.filename = node, filename

    def line(self, path: list[str | int]) -> int | None:
        node, line = self.node, None
        for key in path:
            if isinstance(node, yaml.MappingNode):
                match = next((pair for pair in node.value if pair[0].value == key), None)
                if match is None:
                    break
                line, node = match[0].start_mark.line + 1, match[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                node = node.value[key]
                line = node.start_mark.line + 1
            else:
                break
        return line

    def error(self, path: list[str | int], problem: str) -> InvalidInput:
        line = self.line(path)
        where = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path).lstrip(".")
        at = f"line {line}: " if line else ""
        return InvalidInput(f"{self.filename}: {at}{where}: {problem}" if where else f"{self.filename}: {at}{problem}")


def load_promptfoo_config(path: str | Path) -> PromptfooSuite:
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"promptfoo config not found: {path}")
    return parse_promptfoo_config(path.read_bytes(), filename=path.name, base_dir=path.parent)


def parse_promptfoo_config(data: bytes, *, filename: str, base_dir: Path | None = None) -> PromptfooSuite:
    """base_dir: where `file://` prompts are read from; None (an upload) refuses them."""
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
    at = _Located(node, filename)
    _check_size(node, at)
    if not isinstance(config, dict):
        raise at.error([], "a promptfoo config is a mapping with prompts, providers and tests")
    for key in config:
        if key not in TOP_KEYS | IGNORED_KEYS:
            raise at.error([key], "not supported by the arena (it reads description, prompts, providers, tests, defaultTest)")
    extra = b""
    prompts, prompt_bytes = _prompts(config.get("prompts"), at, base_dir)
    extra += prompt_bytes
    tests = _tests(config, at)
    items: list[PromptItem] = []
    for p, (label, template) in enumerate(prompts, start=1):
        for t, test in enumerate(tests, start=1):
            identifier = f"t{t}" if len(prompts) == 1 else f"p{p}-t{t}"
            turn = render(template, test["vars"])
            if not turn.strip():
                raise at.error(["prompts", p - 1], f"renders empty for test {t}")
            checks = {
                "description": test["description"],
                "prompt": label,
                "vars": test["vars"],
                "threshold": test["threshold"],
                "assert": [
                    {**a, "value": _render_value(a["value"], test["vars"])} for a in test["assert"]
                ],
            }
            items.append(PromptItem(id=identifier, turns=[turn], checks=checks))
    name = config.get("description") if isinstance(config.get("description"), str) else None
    name = (name or Path(filename).stem)[:200]
    digest = hashlib.sha256(data + extra).hexdigest()
    return PromptfooSuite(
        name=name,
        prompt_set=PromptSet(name=name, items=items, sha256=digest),
        instances=_providers(config.get("providers"), at),
    )


def _check_size(node: yaml.Node | None, at: _Located) -> None:
    """Refuse a document whose aliases expand past MAX_NODES (a "billion laughs"), before
    anything walks or prints it."""
    stack, seen = [node], 0
    while stack:
        current = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise at.error([], f"more than {MAX_NODES} YAML values once anchors are expanded")
        if isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
        elif isinstance(current, yaml.MappingNode):
            stack.extend(value for pair in current.value for value in pair)


def _render_value(value: Any, variables: dict[str, Any]) -> Any:
    """Assertion values are templates too (promptfoo renders them with the test's vars)."""
    if isinstance(value, str):
        return render(value, variables)
    if isinstance(value, list):
        return [_render_value(v, variables) for v in value]
    return value


def _prompts(raw: Any, at: _Located, base_dir: Path | None) -> tuple[list[tuple[str, str]], bytes]:
    if raw is None:
        raise at.error(["prompts"], "missing: give at least one prompt")
    entries = raw if isinstance(raw, list) else [raw]
    prompts: list[tuple[str, str]] = []
    read = b""
    for index, entry in enumerate(entries):
        where: list[str | int] = ["prompts", index] if isinstance(raw, list) else ["prompts"]
        label = None
        if isinstance(entry, dict):
            label = entry.get("label") or entry.get("id")
            entry = entry.get("raw", entry.get("id"))
        if not isinstance(entry, str) or not entry.strip():
            raise at.error(where, "a prompt is a non-empty string, a file:// path, or {raw: …, label: …}")
        if entry.startswith("file://"):
            texts, data = _prompt_file(entry, at, where, base_dir)
            read += data
            prompts += [(label or entry, text) for text in texts]
            continue
        prompts.append((label or entry[:80], entry))
    for index, (_label, text) in enumerate(prompts):
        try:
            check_template(text, where="template")
        except InvalidInput as exc:
            raise at.error(["prompts", min(index, len(entries) - 1)], str(exc).removeprefix("template: ")) from None
    return prompts, read


def _prompt_file(entry: str, at: _Located, where: list[str | int], base_dir: Path | None) -> tuple[list[str], bytes]:
    name = entry.removeprefix("file://")
    if base_dir is None:
        raise at.error(where, "file:// prompts are read next to a config file, not in an upload")
    if not name.lower().endswith(PROMPT_FILE_SUFFIXES):
        raise at.error(where, f"only text prompt files are read ({', '.join(PROMPT_FILE_SUFFIXES)}); scripts never run")
    file = (base_dir / name).resolve()
    if not file.is_file():
        raise at.error(where, f"prompt file not found: {file}")
    data = file.read_bytes()
    text = data.decode("utf-8-sig", errors="strict")
    # promptfoo's .txt files hold several prompts separated by a line of ---
    parts = [part.strip() for part in text.split("\n---\n")] if name.endswith(".txt") else [text.strip()]
    return [part for part in parts if part], data


def _tests(config: dict[str, Any], at: _Located) -> list[dict[str, Any]]:
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
        # A list value makes one test per value (every combination), as promptfoo does.
        keys = [k for k, v in variables.items() if isinstance(v, list)]
        for combo in itertools.product(*(variables[k] for k in keys)):
            tests.append(
                {
                    "description": description,
                    "vars": {**variables, **dict(zip(keys, combo, strict=True))},
                    "assert": asserts,
                    "threshold": threshold,
                }
            )
            if len(tests) > MAX_TESTS:
                raise at.error(["tests"], f"more than {MAX_TESTS} tests once list vars are expanded")
    return tests


def _check_keys(test: dict[str, Any], where: list[str | int], at: _Located) -> None:
    for key in test:
        if key not in TEST_KEYS:
            raise at.error([*where, key], f"not supported in a test (use {', '.join(sorted(TEST_KEYS))})")


def _vars(test: dict[str, Any], where: list[str | int], at: _Located) -> dict[str, Any]:
    variables = test.get("vars") or {}
    if not isinstance(variables, dict):
        raise at.error([*where, "vars"], "must be a mapping of names to values")
    for name, value in variables.items():
        if isinstance(value, str) and value.startswith("file://"):
            raise at.error([*where, "vars", name], "file:// vars are not supported (they may be scripts)")
    return variables


def _asserts(test: dict[str, Any], where: list[str | int], at: _Located) -> list[dict[str, Any]]:
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


def _providers(raw: Any, at: _Located) -> list[ModelInstance]:
    if raw is None:
        return []
    entries = raw if isinstance(raw, list) else [raw]
    instances = []
    for index, entry in enumerate(entries):
        where: list[str | int] = ["providers", index] if isinstance(raw, list) else ["providers"]
        config: dict[str, Any] = {}
        if isinstance(entry, dict):
            config = entry.get("config") or {}
            entry = entry.get("id")
            where = [*where, "id"]
        if not isinstance(entry, str) or not entry:
            raise at.error(where, "a provider is an id string or {id: …, config: …}")
        instances.append(_instance(entry, config, at, where))
    return instances


def _instance(provider: str, config: Any, at: _Located, where: list[str | int]) -> ModelInstance:
    if provider.startswith(CODE_PROVIDERS):
        raise at.error(where, f"{provider!r} runs code or calls out; the arena runs its own models only")
    model = provider.removeprefix("openai:chat:")
    if not model.startswith(NAMESPACES) or model.startswith(("openai:chat:", "openai:completion:", "openai:responses:")):
        raise at.error(where, f"{provider!r} is not an arena model: use openai:chat:<arena model id> or the arena id")
    if not isinstance(config, dict):
        raise at.error([*where[:-1], "config"], "must be a mapping")
    for key in config:
        if key not in PROVIDER_OPTIONS:
            raise at.error([*where[:-1], "config", key], f"not supported (use {', '.join(sorted(PROVIDER_OPTIONS))})")
    try:
        options = sampling_options(
            temperature=config.get("temperature"),
            top_p=config.get("top_p"),
            max_tokens=config.get("max_tokens"),
            seed=config.get("seed"),
        )
        return ModelInstance(model=model, **options.model_dump())
    except ValueError as exc:
        raise at.error([*where[:-1], "config"], f"settings the arena cannot use ({exc})") from None
