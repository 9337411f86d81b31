"""JSON from outside, with its nesting depth and number size bounded before it is parsed.

Python's parser recurses once per level (100,000 levels: RecursionError) and turns a digit run
into an int (over 4,300 digits: ValueError, since Python 3.11). Both surfaced as 500s. `check_json_bounds` scans the text
first — strings skipped whole by one regex, then one pass over the brackets that stops at the
first level too deep — and says what is wrong; `parse_json` is that check plus `json.loads`,
with every failure an `InvalidInput`, and `load_json` the same for bytes. Every layer reads JSON
from outside, so this module sits low (beside csv_safe): the `JsonBounds` middleware
(web/middleware.py) checks every JSON request body, uploaded JSON files (the import) go through
`load_json`, each line of a .jsonl prompt file (evaluation/bench/prompt_sets.py) through
`parse_json`, and a judge's output (evaluation/judge/parse.py) is checked before it is decoded.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from arena.errors import InvalidInput

MAX_DEPTH: Final = 64  # an export, the deepest body the arena takes, is 6 levels deep
MAX_NUMBER_DIGITS: Final = 100  # a seed or a token count needs 20 at most

_STRING: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_LONG_NUMBER: Final = re.compile(rf"[0-9]{{{MAX_NUMBER_DIGITS + 1},}}")
_BRACKET: Final = re.compile(r"[\[\]{}]")


class JsonTooComplex(InvalidInput):
    """Nested deeper, or with longer numbers, than any request of the arena needs."""


def check_json_bounds(text: str, *, what: str = "the body") -> None:
    """Raise JsonTooComplex when `text` nests deeper than MAX_DEPTH or holds a number with more
    than MAX_NUMBER_DIGITS digits (outside strings). Malformed JSON is left to the parser."""
    bare = _STRING.sub('""', text)
    if _LONG_NUMBER.search(bare):
        raise JsonTooComplex(f"{what} holds a number with more than {MAX_NUMBER_DIGITS} digits")
    depth = 0
    for match in _BRACKET.finditer(bare):
        depth += 1 if match.group() in "[{" else -1
        if depth > MAX_DEPTH:
            raise JsonTooComplex(f"{what} is nested more than {MAX_DEPTH} levels deep")


def load_json(raw: bytes, *, what: str = "the body") -> Any:
    """Bounded `json.loads` of bytes: InvalidInput (400) naming the problem, never a parser crash."""
    try:
        text = raw.decode(json.detect_encoding(raw))
    except UnicodeDecodeError:
        raise InvalidInput(f"{what} is not UTF-8 text") from None
    return parse_json(text, what=what)


def parse_json(text: str, *, what: str = "the body") -> Any:
    """Bounded `json.loads` of text: InvalidInput (400) naming the problem, never a parser crash."""
    check_json_bounds(text, what=what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise InvalidInput(f"{what} is not valid JSON: {exc.msg} at {where}") from None
    except (ValueError, RecursionError) as exc:  # the bounds above should leave none: still a 400
        raise JsonTooComplex(f"{what} cannot be read as JSON: {exc}") from None
