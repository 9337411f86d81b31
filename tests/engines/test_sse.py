"""The SSE decoder, offline: whole, split at every byte, and garbled."""

from __future__ import annotations

import random

import pytest

from arena.engines.sse import SSEDecoder, SSEEvent


def decode(*chunks: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events + decoder.flush()


def datas(events: list[SSEEvent]) -> list[str]:
    return [event.data for event in events]


# An OpenAI-style stream with the awkward parts: multi-byte characters, a comment,
# a multi-line event, named events and ids.
STREAM = (
    ": keep-alive\n\n"
    'data: {"content": "héllo 世界 🎉"}\n\n'
    "event: progress\nid: 7\ndata: first line\ndata: second line\n\n"
    ": another comment\n"
    "data: [DONE]\n\n"
).encode()
EXPECTED = [
    SSEEvent(data='{"content": "héllo 世界 🎉"}'),
    SSEEvent(event="progress", id="7", data="first line\nsecond line"),
    SSEEvent(id="7", data="[DONE]"),
]


def test_decodes_a_whole_stream() -> None:
    assert decode(STREAM) == EXPECTED


def test_events_come_out_as_soon_as_their_blank_line_arrives() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: one\n") == []
    assert datas(decoder.feed(b"\ndata: tw")) == ["one"]
    assert datas(decoder.feed(b"o\n\n")) == ["two"]
    assert decoder.flush() == []


@pytest.mark.parametrize("split", range(1, len(STREAM)))
def test_any_split_point_gives_the_same_events(split: int) -> None:
    # Includes splits inside "世", "🎉" and between a field's name and its colon.
    assert decode(STREAM[:split], STREAM[split:]) == EXPECTED


def test_byte_by_byte_and_random_chunking_give_the_same_events() -> None:
    assert decode(*(STREAM[i : i + 1] for i in range(len(STREAM)))) == EXPECTED
    rng = random.Random(1234)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(STREAM)), 8))
        chunks = [STREAM[a:b] for a, b in zip([0, *cuts], [*cuts, len(STREAM)])]
        assert decode(*chunks) == EXPECTED


@pytest.mark.parametrize("line_end", ["\n", "\r\n", "\r"])
def test_every_line_ending_is_understood(line_end: str) -> None:
    text = STREAM.decode().replace("\n", line_end).encode()
    assert decode(text) == EXPECTED
    assert decode(*(text[i : i + 1] for i in range(len(text)))) == EXPECTED


def test_crlf_split_between_cr_and_lf_is_one_line_end() -> None:
    # Were the "\n" read as a second line end, it would end the event early with one line.
    assert datas(decode(b"data: a\r", b"\ndata: b\r\n\r\n")) == ["a\nb"]
    assert datas(decode(b"data: a\r", b"\n", b"\r", b"\n")) == ["a"]


def test_mixed_line_endings_in_one_stream() -> None:
    assert datas(decode(b"data: a\r\n\rdata: b\n\r\ndata: c\r\r")) == ["a", "b", "c"]


def test_field_value_spacing_follows_the_spec() -> None:
    events = decode(b"data:no space\n\ndata:  two spaces\n\ndata\n\ndata:\n\n")
    assert datas(events) == ["no space", " two spaces", "", ""]


def test_event_without_data_is_not_dispatched_and_its_type_does_not_leak() -> None:
    events = decode(b"event: ping\n\ndata: real\n\n")
    assert events == [SSEEvent(event="message", data="real")]


def test_id_carries_over_and_an_id_with_nul_is_ignored() -> None:
    events = decode(b"id: 1\ndata: a\n\ndata: b\n\nid: x\x00y\ndata: c\n\n")
    assert [(e.id, e.data) for e in events] == [("1", "a"), ("1", "b"), ("1", "c")]


def test_retry_and_unknown_fields() -> None:
    events = decode(b"retry: 1500\nfoo: bar\ndata: a\n\nretry: soon\ndata: b\n\n")
    assert [(e.retry, e.data) for e in events] == [(1500, "a"), (None, "b")]


def test_flush_dispatches_a_final_event_that_lacks_its_blank_line() -> None:
    assert datas(decode(b"data: a\n\ndata: [DONE]")) == ["a", "[DONE]"]
    assert datas(decode(b"data: a\n\ndata: [DONE]\n")) == ["a", "[DONE]"]
    assert decode(b"") == []
    assert decode(b": only a comment") == []


def test_invalid_utf8_becomes_replacement_characters_not_an_exception() -> None:
    events = decode(b"data: ok \xff\xfe bad\n\n", b"data: caf\xc3", b"\xa9\n\n")
    assert datas(events) == ["ok \ufffd\ufffd bad", "café"]


def test_a_truncated_multibyte_character_at_the_end_is_replaced() -> None:
    assert datas(decode(b"data: caf\xc3")) == ["caf\ufffd"]


def test_byte_order_mark_is_dropped_only_at_the_start() -> None:
    assert datas(decode(b"\xef\xbb", b"\xbfdata: a\n\n")) == ["a"]
    assert datas(decode(b"data: \xef\xbb\xbfa\n\n")) == ["\ufeffa"]


def test_random_garbage_never_raises() -> None:
    rng = random.Random(99)
    alphabet = [b"data:", b"event:", b"id:", b":", b" ", b"\r", b"\n", b"x", b"\xc3", b"\xa9", b"\xff", b"\x00"]
    for _ in range(200):
        garbage = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        cut = rng.randint(0, len(garbage))
        for event in decode(garbage[:cut], garbage[cut:]):
            assert isinstance(event.data, str)
