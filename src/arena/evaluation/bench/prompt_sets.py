"""Prompt sets for batch benchmarks, loaded from .txt, .jsonl or .csv files.

- ``.txt``: one prompt a line; blank lines are skipped.
- ``.jsonl``: one JSON object a line with ``prompt`` (a string) or ``turns`` (a list of strings,
  one user message per turn), and optionally ``category``, ``reference`` (a string, or a list
  such as one reference answer per turn) and ``id`` or ``question_id`` (MT-bench's name).
- ``.csv``: a header row with ``prompt`` and optionally ``category``, ``reference`` and ``id``.

Items without an id are numbered by their position in the set (1, 2, ...). The set carries the
SHA-256 of the file's bytes so a benchmark run can tell whether its prompts changed.
Anything wrong raises ``InvalidInput`` with the file and line in the message.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arena.bounded_json import check_json_bounds
from arena.errors import InvalidInput, NotFound

SUFFIXES = (".txt", ".jsonl", ".csv")


@dataclass(frozen=True, kw_only=True)
class PromptItem:
    id: str
    turns: list[str]  # user messages, one per turn; most sets have a single turn
    category: str | None = None
    reference: list[str] | None = None  # reference answer(s), e.g. one per turn
    checks: dict[str, Any] | None = None  # a promptfoo test's assertions (bench.promptfoo_config)

    @property
    def prompt(self) -> str:
        """The first user message."""
        return self.turns[0]


@dataclass(frozen=True, kw_only=True)
class PromptSet:
    name: str
    items: list[PromptItem]
    sha256: str  # of the file's bytes

    def __len__(self) -> int:
        return len(self.items)

    @property
    def categories(self) -> list[str]:
        return sorted({item.category for item in self.items if item.category is not None})


def load_prompt_set(path: str | Path, *, name: str | None = None) -> PromptSet:
    """Read and parse a prompt file; ``name`` defaults to the file name without its suffix."""
    path = Path(path)
    if not path.exists():
        raise NotFound(f"prompt file not found: {path}")
    if not path.is_file():
        raise InvalidInput(f"{path} is not a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read prompt file {path}: {exc.strerror or exc}") from exc
    return parse_prompt_set(data, filename=path.name, name=name)


def parse_prompt_set(data: bytes, *, filename: str, name: str | None = None) -> PromptSet:
    """Parse the bytes of a prompt file (an upload, say); the suffix of ``filename`` picks the format."""
    suffix = Path(filename).suffix.lower()
    parsers = {".txt": _parse_txt, ".jsonl": _parse_jsonl, ".csv": _parse_csv}
    if suffix not in parsers:
        raise InvalidInput(
            f"{filename}: unsupported prompt file type {suffix or '(no suffix)'!r}; use one of {', '.join(SUFFIXES)}"
        )
    text = _decode(data, filename=filename)
    items: list[PromptItem] = []
    first_seen: dict[str, int] = {}
    for line_number, fields in parsers[suffix](text, filename=filename):
        item = _item(fields, position=len(items) + 1, where=f"{filename}: line {line_number}")
        if item.id in first_seen:
            raise InvalidInput(
                f"{filename}: line {line_number}: duplicate id {item.id!r} (first on line {first_seen[item.id]})"
            )
        first_seen[item.id] = line_number
        items.append(item)
    if not items:
        raise InvalidInput(f"{filename}: no prompts in the file")
    return PromptSet(name=name or Path(filename).stem, items=items, sha256=hashlib.sha256(data).hexdigest())


def _decode(data: bytes, *, filename: str) -> str:
    try:
        return data.decode("utf-8-sig")  # tolerates the byte-order mark spreadsheets write
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InvalidInput(
            f"{filename}: line {line}: not valid UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        ) from exc


def _lines(text: str) -> Iterator[tuple[int, str]]:
    # Only \n (and \r\n) end a line: str.splitlines() would also split at U+2028 and friends,
    # which JSON strings may hold as they are.
    for line_number, line in enumerate(text.split("\n"), start=1):
        yield line_number, line.removesuffix("\r")


def _parse_txt(text: str, *, filename: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for line_number, line in _lines(text):
        if line.strip():
            yield line_number, {"prompt": line.strip()}


def _parse_jsonl(text: str, *, filename: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for line_number, line in _lines(text):
        if not line.strip():
            continue
        # Bounded first: a line of "[" x 50,000 or a 5,000-digit number crashes json.loads (a 500).
        check_json_bounds(line, what=f"{filename}: line {line_number}")
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{filename}: line {line_number}: not valid JSON ({exc.msg})") from exc
        except (ValueError, RecursionError) as exc:  # the bounds should leave none: still the line's fault
            raise InvalidInput(f"{filename}: line {line_number}: cannot be read as JSON ({exc})") from exc
        if not isinstance(record, dict):
            raise InvalidInput(f"{filename}: line {line_number}: expected a JSON object, got {type(record).__name__}")
        yield line_number, record


def _parse_csv(text: str, *, filename: str) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    row_start = 1
    try:
        for row in reader:
            line_number, row_start = row_start, reader.line_num + 1  # a quoted cell may span lines
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in row]
                if "prompt" not in header:
                    raise InvalidInput(f"{filename}: line {line_number}: the header needs a 'prompt' column")
                repeated = sorted({column for column in header if column and header.count(column) > 1})
                if repeated:
                    raise InvalidInput(f"{filename}: line {line_number}: column {repeated[0]!r} appears twice")
                continue
            if len(row) > len(header):
                raise InvalidInput(
                    f"{filename}: line {line_number}: {len(row)} fields but the header has {len(header)}"
                )
            cells = dict(zip(header, row, strict=False))  # a short row leaves the last columns empty
            fields: dict[str, Any] = {"prompt": cells.get("prompt", "")}
            for column in ("category", "reference", "id"):
                if cells.get(column, "").strip():
                    fields[column] = cells[column].strip()
            yield line_number, fields
    except csv.Error as exc:
        raise InvalidInput(f"{filename}: line {reader.line_num}: not valid CSV ({exc})") from exc


def _item(fields: dict[str, Any], *, position: int, where: str) -> PromptItem:
    prompt, turns = fields.get("prompt"), fields.get("turns")
    if prompt is not None and turns is not None:
        raise InvalidInput(f"{where}: give 'prompt' or 'turns', not both")
    if prompt is None and turns is None:
        raise InvalidInput(f"{where}: needs 'prompt' or 'turns'")
    if prompt is not None:
        if not isinstance(prompt, str):
            raise InvalidInput(f"{where}: 'prompt' must be a string")
        turns = [prompt]
    if not isinstance(turns, list) or not turns or not all(isinstance(turn, str) for turn in turns):
        raise InvalidInput(f"{where}: 'turns' must be a non-empty list of strings")
    for turn_number, turn in enumerate(turns, start=1):
        if not turn.strip():
            problem = "the prompt is empty" if prompt is not None else f"turn {turn_number} is empty"
            raise InvalidInput(f"{where}: {problem}")

    category = fields.get("category")
    if category is not None and not isinstance(category, str):
        raise InvalidInput(f"{where}: 'category' must be a string")

    reference = fields.get("reference")
    if isinstance(reference, str):
        reference = [reference]
    if reference is not None and not (isinstance(reference, list) and all(isinstance(r, str) for r in reference)):
        raise InvalidInput(f"{where}: 'reference' must be a string or a list of strings")

    identifier = fields.get("id")
    if identifier is None:
        identifier = fields.get("question_id")
    if identifier is None:
        identifier = str(position)
    elif isinstance(identifier, bool) or not isinstance(identifier, (str, int)):
        raise InvalidInput(f"{where}: 'id' must be a string or an integer")
    identifier = str(identifier).strip()
    if not identifier:
        raise InvalidInput(f"{where}: 'id' is empty")

    return PromptItem(
        id=identifier,
        turns=list(turns),
        category=(category.strip() or None) if category else None,
        reference=reference or None,
    )
