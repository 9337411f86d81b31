"""The NDJSON decoder, offline: any chunking gives the same objects; bad lines are named."""

from __future__ import annotations

import json

import pytest

from arena.engines.ndjson import NDJSONDecoder
from arena.errors import EngineProtocolError

# An Ollama-like stream with multi-byte characters (2, 3 and 4 bytes in UTF-8).
OBJECTS = [
    {"message": {"role": "assistant", "content": "Café"}, "done": False},
    {"message": {"role": "assistant", "content": " — naïve"}, "done": False},
    {"message": {"role": "assistant", "content": " 🦙"}, "done": False},
    {"done": True, "eval_count": 3, "eval_duration": 4_535_599_000},
]
STREAM = b"".join(json.dumps(obj, ensure_ascii=False).encode() + b"\n" for obj in OBJECTS)


def decode_in_pieces(data: bytes, cuts: list[int]) -> list[dict]:
    decoder = NDJSONDecoder()
    objects: list[dict] = []
    bounds = [0, *cuts, len(data)]
    for start, end in zip(bounds, bounds[1:]):
        objects += decoder.feed(data[start:end])
    return objects + decoder.flush()


def test_whole_stream_decodes_to_its_objects() -> None:
    assert decode_in_pieces(STREAM, []) == OBJECTS


def test_every_single_split_point_gives_the_same_objects() -> None:
    # Includes cuts inside "é", "—" and the 4-byte llama emoji.
    for cut in range(1, len(STREAM)):
        assert decode_in_pieces(STREAM, [cut]) == OBJECTS, f"split at byte {cut}"


def test_byte_by_byte_feeding_gives_the_same_objects() -> None:
    assert decode_in_pieces(STREAM, list(range(1, len(STREAM)))) == OBJECTS


def test_split_inside_a_multibyte_character_is_reassembled() -> None:
    data = '{"content": "🦙"}\n'.encode()
    emoji_start = data.index("🦙".encode())
    decoder = NDJSONDecoder()
    assert decoder.feed(data[: emoji_start + 2]) == []
    assert decoder.feed(data[emoji_start + 2 :]) == [{"content": "🦙"}]


def test_a_line_is_held_back_until_its_newline_arrives() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'{"a": 1}\n{"b":') == [{"a": 1}]
    assert decoder.feed(b" 2}") == []
    assert decoder.feed(b"\n") == [{"b": 2}]
    assert decoder.flush() == []


def test_blank_lines_and_crlf_endings_are_accepted() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'\n{"a": 1}\r\n\r\n   \n{"b": 2}\r\n\n') == [{"a": 1}, {"b": 2}]


def test_flush_returns_a_last_line_without_newline() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'{"a": 1}\n{"done": true}') == [{"a": 1}]
    assert decoder.flush() == [{"done": True}]
    assert decoder.flush() == []


def test_a_line_that_is_not_json_is_named_in_the_error() -> None:
    decoder = NDJSONDecoder()
    with pytest.raises(EngineProtocolError, match="502 Bad Gateway"):
        decoder.feed(b"<html>502 Bad Gateway</html>\n")


def test_a_long_bad_line_is_truncated_in_the_error() -> None:
    garbage = b"x" * 10_000 + b"\n"
    with pytest.raises(EngineProtocolError) as caught:
        NDJSONDecoder().feed(garbage)
    assert "xxxx" in str(caught.value)
    assert len(str(caught.value)) < 500


@pytest.mark.parametrize("line", [b"[1, 2, 3]", b"42", b'"done"', b"null", b"true"])
def test_json_that_is_not_an_object_is_rejected(line: bytes) -> None:
    with pytest.raises(EngineProtocolError, match="JSON object"):
        NDJSONDecoder().feed(line + b"\n")


@pytest.mark.parametrize(
    "line",
    [b'{"eval_count": ' + b"9" * 5000 + b"}", b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"],
    ids=["integer too long for Python", "nesting too deep"],
)
def test_json_python_cannot_hold_is_a_protocol_error(line: bytes) -> None:
    with pytest.raises(EngineProtocolError):
        NDJSONDecoder().feed(line + b"\n")


def test_invalid_utf8_is_rejected() -> None:
    with pytest.raises(EngineProtocolError):
        NDJSONDecoder().feed(b'{"content": "\xff\xfe"}\n')


def test_a_garbled_last_line_is_rejected_by_flush() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'{"a": 1}\n{"truncated": ') == [{"a": 1}]
    with pytest.raises(EngineProtocolError, match="truncated"):
        decoder.flush()


def test_good_lines_before_a_bad_one_are_not_lost() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'{"a": 1}\nnot json\n{"b": 2}\n') == [{"a": 1}]
    with pytest.raises(EngineProtocolError, match="not json"):
        decoder.feed(b"")


def test_a_line_over_the_size_limit_is_rejected() -> None:
    decoder = NDJSONDecoder(max_line_bytes=64)
    decoder.feed(b'{"content": "' + b"a" * 40)
    with pytest.raises(EngineProtocolError, match="64 bytes"):
        decoder.feed(b"a" * 40)
