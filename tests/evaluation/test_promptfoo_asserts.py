"""promptfoo's deterministic assertions as the arena grades them: promptfoo's semantics (its
src/assertions/*.ts, 0.121), and the refusal of anything that would run code."""

from __future__ import annotations

import time
from typing import Any

import pytest

from arena.errors import InvalidInput
from arena.evaluation.bench.promptfoo_asserts import (
    check,
    comma_separated,
    extract_json_objects,
    grade_answer,
    normalize_assertion,
)


def passes(kind: str, value: Any, output: str, **extra: Any) -> bool:
    assertion = normalize_assertion({"type": kind, "value": value, **extra}, where="assert")
    return grade_answer({"assert": [assertion]}, output=output, latency_ms=extra.get("latency_ms", 10.0))["pass"]


@pytest.mark.parametrize(
    ("kind", "value", "output", "expected"),
    [
        ("equals", "Paris", "Paris", True),
        ("equals", "Paris", "Paris.", False),
        ("equals", 42, "42", True),  # String(42)
        ("equals", {"a": [1, 2]}, '{"a": [1, 2]}', True),  # an object is compared as parsed JSON
        ("equals", {"a": 1}, "not json", False),
        ("not-equals", {"a": 1}, "not json", True),
        ("contains", "sky", "The sky is blue", True),
        ("contains", "Sky", "The sky is blue", False),
        ("icontains", "SKY", "The sky is blue", True),
        ("not-contains", "red", "The sky is blue", True),
        ("contains-any", "red, blue", "The sky is blue", True),
        ("contains-any", ["red", "green"], "The sky is blue", False),
        ("icontains-any", ["BLUE"], "The sky is blue", True),
        ("contains-all", ["sky", "blue"], "The sky is blue", True),
        ("contains-all", '"sky, is", red', "The sky, is blue", False),  # a quoted field keeps its comma
        ("icontains-all", "SKY, BLUE", "The sky is blue", True),
        ("starts-with", "The", "The sky is blue", True),
        ("not-starts-with", "The", "The sky is blue", False),
        ("regex", r"^The \w+ is", "The sky is blue", True),
        ("regex", r"\d{3}", "The sky is blue", False),
        ("is-json", None, '{"a": 1}', True),
        ("is-json", None, "[1, 2]", True),
        ("is-json", None, "Sure! {\"a\": 1}", False),
        ("not-is-json", None, "plain text", True),
        ("contains-json", None, 'Sure! {"a": 1} there', True),
        ("contains-json", None, "no braces here", False),
        ("not-contains-json", None, "no braces here", True),
    ],
)
def test_each_assertion_type_grades_as_promptfoo_does(kind: str, value: Any, output: str, expected: bool) -> None:
    assert passes(kind, value, output) is expected


SCHEMA = {"type": "object", "required": ["city"], "properties": {"population": {"type": "integer"}}}


def test_json_schemas_validate_the_parsed_answer() -> None:
    assert passes("is-json", SCHEMA, '{"city": "Paris", "population": 2}')
    assert not passes("is-json", SCHEMA, '{"population": 2}')
    assert not passes("is-json", SCHEMA, '{"city": "Paris", "population": "many"}')
    # A schema given as a YAML string (promptfoo reads it with its YAML loader).
    assert passes("is-json", "type: object\nrequired: [city]", '{"city": "Paris"}')
    # contains-json: any object in the text that matches passes.
    assert passes("contains-json", SCHEMA, 'First {"x": 1}, then {"city": "Rome"}.')
    assert not passes("contains-json", SCHEMA, 'Only {"x": 1}.')


def test_latency_compares_milliseconds_with_the_threshold() -> None:
    assertion = normalize_assertion({"type": "latency", "threshold": 500}, where="assert")
    assert grade_answer({"assert": [assertion]}, output="x", latency_ms=499.0)["pass"]
    slow = grade_answer({"assert": [assertion]}, output="x", latency_ms=501.0)
    assert not slow["pass"] and slow["reason"] == "Latency 501ms is greater than threshold 500ms"
    assert not grade_answer({"assert": [assertion]}, output="x", latency_ms=None)["pass"]


def asserts(*raw: dict[str, Any]) -> list[dict[str, Any]]:
    return [normalize_assertion(a, where="assert") for a in raw]


def test_the_weighted_score_and_threshold_decide_a_test_as_in_promptfoo() -> None:
    checks = asserts(
        {"type": "contains", "value": "blue", "weight": 3},
        {"type": "contains", "value": "red"},
        {"type": "contains", "value": "green", "weight": 0},
    )
    without = grade_answer({"assert": checks}, output="blue", latency_ms=1.0)
    assert (without["pass"], without["score"]) == (False, 0.75)  # no threshold: every assertion must pass
    assert without["reason"] == 'Expected output to contain "red"'
    assert [r["pass"] for r in without["results"]] == [True, False, True]  # weight 0: graded, never failing
    met = grade_answer({"assert": checks, "threshold": 0.75}, output="blue", latency_ms=1.0)
    assert met["pass"] and met["reason"] == "Aggregate score 0.75 ≥ 0.75 threshold"
    assert not grade_answer({"assert": checks, "threshold": 0.8}, output="blue", latency_ms=1.0)["pass"]
    empty = grade_answer({"assert": []}, output="anything", latency_ms=1.0)
    assert (empty["pass"], empty["score"], empty["reason"]) == (True, 1.0, "No assertions")  # as promptfoo


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"type": "javascript", "value": "output.length > 3"}, "runs code"),
        ({"type": "python", "value": "file://check.py"}, "runs code"),
        ({"type": "webhook", "value": "http://example.test/grade"}, "runs code"),
        ({"type": "contains", "value": "file://expected.txt"}, "loads a file"),
        ({"type": "factuality", "value": "Paris is the capital"}, "not supported yet"),
        ({"type": "similar", "value": "names Paris"}, "not supported yet"),
        ({"type": "levenshtein", "value": "x"}, "unknown or unsupported assertion type 'levenshtein'"),
        ({"value": "x"}, "assert.type: missing"),
        ({"type": "regex", "value": "(unclosed"}, "not a valid regular expression"),
        ({"type": "latency"}, "assert.threshold: 'latency' needs a threshold"),
        ({"type": "contains", "value": "x", "weight": -1}, "assert.weight: must be a number ≥ 0"),
        ({"type": "is-json", "value": {"type": "no-such-type"}}, "not a valid JSON schema"),
    ],
)
def test_assertions_that_cannot_be_graded_safely_are_refused_with_the_reason(raw: dict[str, Any], words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_assertion(raw, where="assert")
    assert words in str(caught.value)


def test_comma_separated_values_and_json_extraction_follow_promptfoo() -> None:
    assert comma_separated('a, "b, c",d ,  e') == ["a", "b, c", "d", "e"]
    assert extract_json_objects('x {"a": {"b": 1}} y {c: 2} {"open": 1') == [{"a": {"b": 1}}, {"c": 2}, {"open": 1}]


@pytest.mark.timeout(30)
def test_a_pattern_that_backtracks_for_ever_fails_its_answer_instead_of_holding_the_worker() -> None:
    """Catastrophic backtracking: Python's own `re` would take longer than the universe's age here."""
    started = time.monotonic()
    assertion = normalize_assertion({"type": "regex", "value": r"(a|aa)+$"}, where="assert")
    passed, reason = check(assertion, output="a" * 60 + "b", latency_ms=None)
    assert passed is False and "took over" in reason
    assert time.monotonic() - started < 5
