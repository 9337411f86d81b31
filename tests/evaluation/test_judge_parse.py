"""Reading verdicts and grades out of what judges actually write."""

from __future__ import annotations

import pytest

from arena.evaluation.judge.parse import read_score, read_verdict


@pytest.mark.parametrize(
    ("text", "verdict", "read_by"),
    [
        ('{"explanation": "A is right.", "verdict": "A"}', "A", "json"),
        (
            'Sure! Here is my judgment:\n```json\n{"explanation": "B cites it", "verdict": "B"}\n```\nHope it helps.',
            "B",
            "json",
        ),
        ('I think {"verdict": "tie", "explanation": "both fine"} is fair.', "tie", "json"),
        ('{"Verdict": "Assistant B", "Reasoning": "clearer"}', "B", "json"),
        ('{"verdict": "[[A]]"}', "A", "json"),
        ('{"explanation": "B is clearly wrong about Berlin", "verdict": "A"', "A", "partial_json"),  # cut off
        ("Assistant A is accurate, B is not.\n\n[[A]]", "A", "mt_bench"),
        ("Both are equally good. [[C]]", "tie", "mt_bench"),
    ],
)
def test_a_verdict_is_read_from_json_prose_fences_cut_off_json_or_mt_bench_markers(
    text: str, verdict: str, read_by: str
) -> None:
    reading = read_verdict(text)
    assert reading is not None
    assert (reading.verdict, reading.read_by) == (verdict, read_by)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "I cannot decide.",
        '{"explanation": "hmm", "verdict": "maybe"}',
        '{"explanation": "the answer was cut off before the verd',
        "First I thought [[A]], but on reflection [[B]].",  # two different markers: ambiguous
        "<html>502 Bad Gateway</html>",
        # Too deep or too long for json (RecursionError, ValueError): garbage, not a crash.
        '{"a":' * 5000,
        '{"explanation": "hmm", "a": ' + "[" * 5000,
        'Stray quote " then ' + '{"a":' * 5000,  # the bounds scan misreads it; json still must not crash
        '{"explanation": "ok", "n": ' + "9" * 5000 + "}",
    ],
)
def test_no_verdict_is_invented(text: str) -> None:
    assert read_verdict(text) is None


def test_the_explanation_comes_with_the_verdict() -> None:
    reading = read_verdict('{"explanation": "  A names Paris.  ", "verdict": "A"}')
    assert reading is not None and reading.explanation == "A names Paris."


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ('{"explanation": "good", "score": 8}', 8.0),
        ('```\n{"score": "7", "explanation": "ok"}\n```', 7.0),
        ('{"explanation": "accurate and brief", "score": 9', 9.0),  # cut off
        ("The answer is correct but terse. Rating: [[6]]", 6.0),
        ('{"rating": 4.5}', 4.5),
    ],
)
def test_a_grade_is_read_in_every_form(text: str, score: float) -> None:
    reading = read_score(text)
    assert reading is not None and reading.score == score


@pytest.mark.parametrize(
    "text",
    ['{"score": 0}', '{"score": 11}', '{"score": true}', "Rating: [[12]]", "[[3]] or maybe [[4]]", "a fine answer"],
)
def test_a_grade_outside_one_to_ten_or_ambiguous_reads_as_none(text: str) -> None:
    assert read_score(text) is None
