"""promptfoo's deterministic assertions, graded the way promptfoo grades them (pure: no I/O).

    checks = {"assert": [normalize_assertion(raw, where="tests[0].assert[0]"), ...], "threshold": None}
    grade = grade_answer(checks, output="…", latency_ms=812.0)  # {"pass", "score", "reason", "results"}

Semantics follow promptfoo 0.121 (src/assertions/*.ts): a ``not-`` prefix inverts an assertion;
each scores 1 or 0; the test's score is the weighted mean; it passes when every assertion passes,
or, with a ``threshold``, when the score reaches it; a weight of 0 is graded but always passes.
Types that run code (``javascript``, ``python``, webhooks, ``file://`` scripts) are refused when
the config is read: a config from someone else must never run code on this server.
"""

from __future__ import annotations

import json
from typing import Any, Final

import jsonschema
import regex
import yaml

from arena.errors import InvalidInput

STRING_TYPES: Final = frozenset({"contains", "icontains", "starts-with", "regex"})
LIST_TYPES: Final = frozenset({"contains-any", "icontains-any", "contains-all", "icontains-all"})
JSON_TYPES: Final = frozenset({"is-json", "contains-json"})
GRADED_TYPES: Final = frozenset({"llm-rubric", "model-graded-closedqa"})  # graded by promptfoo_graded
SUPPORTED: Final = STRING_TYPES | LIST_TYPES | JSON_TYPES | GRADED_TYPES | {"equals", "latency"}
RUNS_CODE: Final = frozenset({"javascript", "python", "ruby", "webhook", "select-best"})
NOT_YET: Final = frozenset({"factuality", "similar", "g-eval", "answer-relevance"})
# What an assertion may say besides its type; `metric` names its score in the report, as in promptfoo.
ASSERTION_KEYS: Final = frozenset({"type", "value", "weight", "threshold", "metric", "provider"})
REFUSED_KEYS: Final = {
    "transform": "runs JavaScript on the answer; the arena never runs code from a config",
    "contextTransform": "runs JavaScript; the arena never runs code from a config",
    "rubricPrompt": "the arena grades with its own rubric prompt; leave it out",
}
REGEX_TIMEOUT_S: Final = 1.0  # per answer: Python's own `re` has no time limit at all
MAX_JSON_SPAN: Final = 100_000  # as promptfoo: a JSON object inside an answer is at most this long


def normalize_assertion(raw: Any, *, where: str) -> dict[str, Any]:
    """An assertion as stored with the item: type, inverse, value, weight, threshold; refused
    with ``where`` (its key path) when it cannot be graded here."""
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where}: an assertion must be a mapping with a 'type'")
    kind = raw.get("type")
    if not isinstance(kind, str) or not kind:
        raise InvalidInput(f"{where}.type: missing (e.g. type: contains)")
    for key in raw:
        if key in REFUSED_KEYS:
            raise InvalidInput(f"{where}.{key}: {REFUSED_KEYS[key]}")
        if key not in ASSERTION_KEYS:
            raise InvalidInput(f"{where}.{key}: not supported (an assertion has {', '.join(sorted(ASSERTION_KEYS))})")
    metric = raw.get("metric")
    if metric is not None and (not isinstance(metric, str) or not metric.strip()):
        raise InvalidInput(f"{where}.metric: must be a non-empty name")
    inverse = kind.startswith("not-")
    base = kind.removeprefix("not-")
    value = raw.get("value")
    if base in RUNS_CODE or (isinstance(value, str) and value.startswith("file://")):
        raise InvalidInput(
            f"{where}: assertion type {kind!r} runs code or loads a file; the arena never runs code from a config"
        )
    if base in NOT_YET:
        raise InvalidInput(f"{where}: assertion type {kind!r} is not supported yet (model-graded assertions)")
    if raw.get("provider") is not None and base not in GRADED_TYPES:
        raise InvalidInput(f"{where}.provider: only model-graded assertions (llm-rubric, model-graded-closedqa) have a grader")
    if base not in SUPPORTED:
        raise InvalidInput(f"{where}: unknown or unsupported assertion type {kind!r} (use {', '.join(sorted(SUPPORTED))})")
    weight = raw.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
        raise InvalidInput(f"{where}.weight: must be a number ≥ 0")
    threshold = raw.get("threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
        raise InvalidInput(f"{where}.threshold: must be a number")
    _check_value(base, value, threshold, where=where)
    normalized = {"type": kind, "base": base, "inverse": inverse, "value": value, "weight": weight, "threshold": threshold}
    return {**normalized, "metric": metric.strip()} if metric else normalized


def _check_value(base: str, value: Any, threshold: Any, *, where: str) -> None:
    if base in STRING_TYPES | {"contains", "icontains"}:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or value == "":
            raise InvalidInput(f"{where}.value: {base!r} needs a non-empty string")
        if base == "regex":
            problem = not_javascript(str(value))
            if problem:
                raise InvalidInput(f"{where}.value: {problem}; promptfoo reads the pattern as a JavaScript RegExp")
            try:
                regex.compile(str(value))
            except regex.error as exc:
                raise InvalidInput(f"{where}.value: not a valid regular expression ({exc})") from None
    elif base in GRADED_TYPES:
        if not isinstance(value, str) or not value.strip():
            what = "rubric" if base == "llm-rubric" else "criterion"
            raise InvalidInput(f"{where}.value: {base!r} needs the {what} as a non-empty string")
    elif base in LIST_TYPES:
        if not value or not isinstance(value, (str, list)):
            raise InvalidInput(f"{where}.value: {base!r} needs a list of strings (or one comma-separated string)")
    elif base == "equals":
        if value is None:
            raise InvalidInput(f"{where}.value: 'equals' needs a value")
    elif base in JSON_TYPES:
        if value:
            schema = _schema(value, where=where)
            try:
                jsonschema.validators.validator_for(schema).check_schema(schema)
            except jsonschema.SchemaError as exc:
                raise InvalidInput(f"{where}.value: not a valid JSON schema ({exc.message})") from None
    elif base == "latency" and threshold is None:
        raise InvalidInput(f"{where}.threshold: 'latency' needs a threshold in milliseconds")


def not_javascript(pattern: str) -> str | None:
    """What in a pattern JavaScript's RegExp rejects (Python-only syntax), or None."""
    i, in_class = 0, False
    while i < len(pattern):
        char, rest = pattern[i], pattern[i + 1 :]
        if char == "\\":
            if not in_class and rest[:1] in ("A", "Z", "z"):
                return f"\\{rest[0]} is not JavaScript: use ^ and $"
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class, i = True, i + 1 + (rest[:1] == "]") + (rest[:2] == "^]")
            continue
        elif char == "(" and rest.startswith("?P"):
            return "(?P…) named groups are Python's: JavaScript writes (?<name>…) and \\k<name>"
        elif char == "(" and rest.startswith("?>"):
            return "atomic groups (?>…) are not JavaScript"
        elif char == "(" and rest.startswith("?#"):
            return "(?#…) comments are not JavaScript"
        elif char == "(" and rest[:1] == "?" and rest[1:2].isalpha() or (char == "(" and rest.startswith("?-")):
            return "JavaScript has no inline flags like (?i): use icontains, or a character class such as [Hh]ello"
        elif char in "*+?}" and rest[:1] == "+" and (char != "?" or i > 0 and pattern[i - 1] not in "(*+?}"):
            return "possessive quantifiers (*+, ++, ?+, {n}+) are not JavaScript"
        i += 1
    return None


def _schema(value: Any, *, where: str) -> dict[str, Any]:
    schema = yaml.safe_load(value) if isinstance(value, str) else value  # promptfoo reads a string as YAML
    if not isinstance(schema, dict):
        raise InvalidInput(f"{where}.value: a JSON schema must be a mapping")
    return schema


def comma_separated(value: str) -> list[str]:
    """promptfoo's reading of `value: a, "b, c", d` for the list types."""
    fields: list[str] = []
    i = 0
    while i < len(value):
        while i < len(value) and value[i] in " \t\n\r,":
            i += 1
        if i >= len(value):
            break
        if value[i] == '"':
            end = i + 1
            field = ""
            while end < len(value):
                if value[end] == '"' and value[end + 1 : end + 2] == '"':
                    field, end = field + '"', end + 2
                elif value[end] == '"':
                    break
                else:
                    field, end = field + value[end], end + 1
            fields.append(field)
            i = end + 1
            while i < len(value) and value[i] in " \t\n\r":
                i += 1
        else:
            end = value.find(",", i)
            end = len(value) if end < 0 else end
            fields.append(value[i:end].strip())
            i = end
    return fields


def extract_json_objects(text: str) -> list[Any]:
    """Every JSON (or YAML flow) object in a text, as promptfoo's extractJsonObjects finds them."""
    found: list[Any] = []
    i = 0
    while i < len(text):
        if text[i] != "{":
            i += 1
            continue
        opened, closed, j = 1, 0, i + 1
        limit = min(i + MAX_JSON_SPAN, len(text))
        next_i = i + 1
        while j < limit and opened > closed:
            opened += text[j] == "{"
            closed += text[j] == "}"
            j += 1
            if opened == closed or j == len(text) or j == i + MAX_JSON_SPAN:
                candidate = text[i:j] + "}" * max(0, opened - closed)
                parsed = _lenient_json(candidate)
                if isinstance(parsed, (dict, list)):
                    found.append(parsed)
                    next_i = j
                    break
                if opened == closed:
                    break
        i = next_i
    return found


def _lenient_json(candidate: str) -> Any:
    try:
        return json.loads(candidate)
    except ValueError:
        pass
    try:
        return yaml.safe_load(candidate)
    except yaml.YAMLError:
        return None


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # JavaScript's String(3.0) is "3"
    return str(value)


def _items(value: Any) -> list[str]:
    values = comma_separated(value) if isinstance(value, str) else list(value)
    return [_as_text(v) for v in values]


def check(assertion: dict[str, Any], *, output: str, latency_ms: float | None) -> tuple[bool, str]:
    """(passed, reason) of one normalized assertion on one answer."""
    base, value, inverse = assertion["base"], assertion["value"], assertion["inverse"]
    no = "not " if inverse else ""
    reason = ""
    if base == "equals":
        if isinstance(value, (dict, list)):
            parsed = _lenient_json_strict(output)
            hit = parsed is not _NOTHING and parsed == value
        else:
            hit = _as_text(value) == output
        reason = f'Expected output "{output}" to {no}equal "{value}"'
    elif base in ("contains", "icontains"):
        needle = _as_text(value)
        hit = needle.lower() in output.lower() if base == "icontains" else needle in output
        reason = f'Expected output to {no}contain "{needle}"'
    elif base in LIST_TYPES:
        needles = _items(value)
        fold = base.startswith("i")
        haystack = output.lower() if fold else output
        present = [(n.lower() if fold else n) in haystack for n in needles]
        hit = any(present) if base.endswith("any") else all(present)
        reason = f'Expected output to {no}contain {"one" if base.endswith("any") else "all"} of "{", ".join(needles)}"'
    elif base == "starts-with":
        hit = output.startswith(_as_text(value))
        reason = f'Expected output to {no}start with "{value}"'
    elif base == "regex":
        try:  # a config comes from anyone: a pattern that backtracks for ever must not hold a worker
            hit = regex.search(_as_text(value), output, timeout=REGEX_TIMEOUT_S) is not None
        except TimeoutError:
            return False, f'the regex "{value}" took over {REGEX_TIMEOUT_S:g} s on this answer: counted as failed'
        reason = f'Expected output to {no}match regex "{value}"'
    elif base == "latency":
        if latency_ms is None:
            return False, "no latency was measured for this answer"
        hit = latency_ms <= assertion["threshold"]
        reason = f"Latency {round(latency_ms)}ms is {'less than or equal to' if inverse else 'greater than'} threshold {assertion['threshold']}ms"
    else:
        return _check_json(assertion, output=output)
    passed = hit != inverse
    return passed, "Assertion passed" if passed else reason


_NOTHING: Final = object()


def _lenient_json_strict(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _NOTHING


def _check_json(assertion: dict[str, Any], *, output: str) -> tuple[bool, str]:
    value, inverse = assertion["value"], assertion["inverse"]
    validator = None
    if value:
        schema = _schema(value, where="assert")
        validator = jsonschema.validators.validator_for(schema)(schema)
    if assertion["base"] == "is-json":
        parsed = _lenient_json_strict(output)
        if parsed is _NOTHING:
            return inverse, "Assertion passed" if inverse else "Expected output to be valid JSON"
        if validator is None:
            return not inverse, "Assertion passed" if not inverse else "Expected output to be valid JSON"
        errors = [error.message for error in validator.iter_errors(parsed)]
        passed = (not errors) != inverse
        if passed:
            return True, "Assertion passed"
        return False, "Output is JSON that conforms to the provided schema" if inverse else (
            f"JSON does not conform to the provided schema. Errors: {'; '.join(errors[:5])}"
        )
    objects = extract_json_objects(output)
    passed = (not objects) if inverse else bool(objects)
    reason = "Expected output to contain valid JSON"
    if validator is not None:
        for found in objects:
            errors = [error.message for error in validator.iter_errors(found)]
            passed = bool(errors) if inverse else not errors
            if not errors:
                reason = "Output contains JSON conforming to the provided schema" if inverse else reason
                break
            reason = f"JSON does not conform to the provided schema. Errors: {'; '.join(errors[:5])}"
    return passed, "Assertion passed" if passed else reason


def grade_answer(
    checks: dict[str, Any],
    *,
    output: str,
    latency_ms: float | None,
    graded: dict[int, tuple[bool, float, str]] | None = None,
) -> dict[str, Any]:
    """The test's result on one answer: every assertion's, the weighted score, pass or fail.
    `graded` holds the model-graded assertions' results by index (``promptfoo_graded.grade_all``).
    A test without assertions passes with score 1, as in promptfoo."""
    if not checks.get("assert"):
        return {"pass": True, "score": 1.0, "reason": "No assertions", "results": []}
    results: list[dict[str, Any]] = []
    total = weights = 0.0
    failed_reason: str | None = None
    for index, assertion in enumerate(checks.get("assert", [])):
        if assertion["base"] in GRADED_TYPES:
            passed, score, reason = (graded or {}).get(index, (False, 0.0, "no grader was asked"))
        else:
            passed, reason = check(assertion, output=output, latency_ms=latency_ms)
            score = 1.0 if passed else 0.0
        weight = float(assertion["weight"])
        total, weights = total + score * weight, weights + weight
        if weight == 0:
            passed = True  # promptfoo: graded, reported, never failing the test
        if not passed:
            failed_reason = reason
        results.append({"type": assertion["type"], "pass": passed, "score": score, "weight": weight, "reason": reason})
    score = total / weights if weights else 0.0
    passed, reason = failed_reason is None, failed_reason or "All assertions passed"
    threshold = checks.get("threshold")
    if threshold is not None:
        passed = score >= threshold
        reason = f"Aggregate score {score:.2f} {'≥' if passed else '<'} {threshold} threshold"
    return {"pass": passed, "score": round(score, 6), "reason": reason, "results": results}
