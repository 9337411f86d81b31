from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from arena.errors import InvalidInput, NotFound
from arena.evaluation.bench.prompt_sets import load_prompt_set, parse_prompt_set

# CI puts shared/ beside the repository checkout.
MT_BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mt_bench_questions.jsonl"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def test_mt_bench_loads_as_is() -> None:
    assert MT_BENCH.is_file(), f"missing test data: {MT_BENCH}"
    prompt_set = load_prompt_set(MT_BENCH)
    assert prompt_set.name == "mt_bench_questions"
    assert len(prompt_set) == 80
    assert len(prompt_set.categories) == 8
    assert all(len(item.turns) == 2 for item in prompt_set.items)
    assert len({item.id for item in prompt_set.items}) == 80
    first = json.loads(MT_BENCH.read_text(encoding="utf-8").splitlines()[0])
    assert prompt_set.items[0].id == str(first["question_id"])
    assert prompt_set.items[0].turns == first["turns"]
    assert prompt_set.items[0].category == first["category"]
    with_reference = [item for item in prompt_set.items if item.reference]
    assert with_reference and all(len(item.reference or []) == 2 for item in with_reference)
    assert prompt_set.sha256 == hashlib.sha256(MT_BENCH.read_bytes()).hexdigest()


def test_txt_one_prompt_a_line(tmp_path: Path) -> None:
    path = write(tmp_path, "quick.txt", "What is 2+2?\r\n\n   \nName a prime.\nSay hi.")
    prompt_set = load_prompt_set(path)
    assert [item.prompt for item in prompt_set.items] == ["What is 2+2?", "Name a prime.", "Say hi."]
    assert [item.id for item in prompt_set.items] == ["1", "2", "3"]
    assert all(item.category is None and item.reference is None for item in prompt_set.items)
    assert load_prompt_set(path, name="smoke").name == "smoke"


def test_jsonl_prompt_or_turns_with_optional_fields(tmp_path: Path) -> None:
    lines = [
        {"prompt": "Solve x+1=3", "category": "math", "reference": "x = 2", "id": "m1"},
        {"turns": ["Write a haiku", "Now in French"], "category": "writing", "reference": ["...", "..."]},
        {"question_id": 7, "prompt": "Hello"},
    ]
    path = write(tmp_path, "mixed.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n\n")
    items = load_prompt_set(path).items
    assert [item.id for item in items] == ["m1", "2", "7"]
    assert items[0].turns == ["Solve x+1=3"] and items[0].reference == ["x = 2"]
    assert items[1].turns == ["Write a haiku", "Now in French"] and items[1].category == "writing"
    assert items[2].category is None and items[2].reference is None


def test_jsonl_lines_end_only_at_newlines(tmp_path: Path) -> None:
    # JSON allows U+2028 / U+0085 raw inside strings; they must not split the record.
    content = '{"prompt": "one\u2028two\u0085three"}\r\n{"prompt": "next"}\r\n'
    items = load_prompt_set(write(tmp_path, "separators.jsonl", content)).items
    assert [item.prompt for item in items] == ["one\u2028two\u0085three", "next"]


def test_csv_with_header(tmp_path: Path) -> None:
    content = 'ID,Prompt,category,reference,notes\nq1,"Explain, briefly: TCP",networking,,x\n\nq2,"Two\nlines",,42,\n'
    items = load_prompt_set(write(tmp_path, "set.csv", content)).items
    assert [item.id for item in items] == ["q1", "q2"]
    assert items[0].prompt == "Explain, briefly: TCP" and items[0].category == "networking"
    assert items[0].reference is None
    assert items[1].prompt == "Two\nlines" and items[1].reference == ["42"] and items[1].category is None


def test_csv_without_ids_and_with_a_byte_order_mark(tmp_path: Path) -> None:
    items = load_prompt_set(write(tmp_path, "excel.csv", "\ufeffprompt\nfirst\nsecond\n")).items
    assert [(item.id, item.prompt) for item in items] == [("1", "first"), ("2", "second")]


def test_parse_bytes_without_a_file() -> None:
    prompt_set = parse_prompt_set(b"one\ntwo\n", filename="upload.TXT")
    assert prompt_set.name == "upload" and len(prompt_set) == 2
    assert prompt_set.sha256 == hashlib.sha256(b"one\ntwo\n").hexdigest()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", '{"prompt": "ok"}\n\n{"prompt": "broken"\n', r"bad\.jsonl: line 3: not valid JSON"),
        ("bad.jsonl", '{"prompt": "ok"}\n{"category": "math"}\n', r"line 2: needs 'prompt' or 'turns'"),
        ("bad.jsonl", '["a list"]\n', r"line 1: expected a JSON object"),
        ("bad.jsonl", '{"prompt": "a", "turns": ["b"]}\n', r"line 1: give 'prompt' or 'turns', not both"),
        ("bad.jsonl", '{"turns": []}\n', r"line 1: 'turns' must be a non-empty list of strings"),
        ("bad.jsonl", '{"turns": ["a", 3]}\n', r"line 1: 'turns' must be a non-empty list of strings"),
        ("bad.jsonl", '{"turns": ["a", "  "]}\n', r"line 1: turn 2 is empty"),
        ("bad.jsonl", '{"prompt": 5}\n', r"line 1: 'prompt' must be a string"),
        ("bad.jsonl", '{"prompt": " "}\n', r"line 1: the prompt is empty"),
        ("bad.jsonl", '{"prompt": "a", "reference": [1]}\n', r"line 1: 'reference' must be a string or a list"),
        ("bad.jsonl", '{"prompt": "a", "category": 3}\n', r"line 1: 'category' must be a string"),
        ("bad.jsonl", '{"prompt": "a", "id": true}\n', r"line 1: 'id' must be a string or an integer"),
        # Bounded before parsing: json.loads would raise RecursionError / ValueError (a 500 over the API).
        ("deep.jsonl", '{"prompt": "ok"}\n' + "[" * 50_000 + "\n", r"deep\.jsonl: line 2 is nested more than 64"),
        ("long.jsonl", '{"prompt": "a", "id": ' + "9" * 5000 + "}\n", r"long\.jsonl: line 1 holds a number with more"),
        ("dup.jsonl", '{"id": 1, "prompt": "a"}\n{"prompt": "b"}\n\n{"id": "1", "prompt": "c"}\n',
         r"line 4: duplicate id '1' \(first on line 1\)"),
        ("bad.csv", "question,category\nhi,x\n", r"line 1: the header needs a 'prompt' column"),
        ("bad.csv", "prompt,id\nhi,1\n,2\n", r"line 3: the prompt is empty"),
        ("bad.csv", "prompt\nhi,extra\n", r"line 2: 2 fields but the header has 1"),
        ("bad.csv", "prompt,id\n\"a\nb\",1\nc,1\n", r"line 4: duplicate id '1' \(first on line 2\)"),
        ("empty.txt", "\n  \n", r"empty\.txt: no prompts"),
        ("empty.jsonl", "", r"no prompts"),
        ("header-only.csv", "prompt,category\n", r"no prompts"),
        ("set.json", '[{"prompt": "a"}]', r"unsupported prompt file type '\.json'"),
        ("noext", "a\n", r"unsupported prompt file type"),
    ],
)
def test_bad_files_are_rejected_with_the_line(tmp_path: Path, name: str, content: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        load_prompt_set(write(tmp_path, name, content))


def test_non_utf8_is_rejected_with_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "latin1.txt", "caf\u00e9\n".encode() + "na\u00efve\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match=r"line 2: not valid UTF-8"):
        load_prompt_set(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="not found"):
        load_prompt_set(tmp_path / "nope.jsonl")
    with pytest.raises(InvalidInput, match="not a file"):
        load_prompt_set(tmp_path)
