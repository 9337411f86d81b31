"""A masked stream's tokens in time slices, offline: the coalescer alone, with a paced source."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from arena.evaluation.conversation.compare import Event, FinishEvent, TokenEvent
from arena.web.token_slices import sliced

A, B = "inst-a", "inst-b"
WORDS = [" I", "'m", " glad", " you", "'re", " here", ".", " The", " sea", " is", " calm", "."]


async def paced(gap_s: float) -> AsyncIterator[Event]:
    """B starts first, then both write a token every `gap_s`; each ends with its done event."""
    yield TokenEvent(instance_id=B, model="m", text="Hi")
    for word in WORDS:
        await asyncio.sleep(gap_s)
        yield TokenEvent(instance_id=A, model="m", text=word)
        yield TokenEvent(instance_id=B, model="m", text=word)
    yield FinishEvent(instance_id=A, model="m", status="ok", text="")
    await asyncio.sleep(gap_s)
    yield TokenEvent(instance_id=B, model="m", text=" Bye")
    yield FinishEvent(instance_id=B, model="m", status="ok", text="")


def collect(gap_s: float, slice_s: float) -> list[Event]:
    async def run() -> list[Event]:
        return [event async for event in sliced(paced(gap_s), order=[A, B], slice_s=slice_s)]

    return asyncio.run(run())


def test_tokens_come_in_fewer_pieces_than_tokens_with_the_same_text_each_before_its_done() -> None:
    events = collect(gap_s=0.01, slice_s=0.1)

    for instance, expected in ((A, "".join(WORDS)), (B, "Hi" + "".join(WORDS) + " Bye")):
        mine = [e for e in events if e.instance_id == instance]
        pieces = [e.text for e in mine if isinstance(e, TokenEvent)]
        assert "".join(pieces) == expected  # the text is unchanged
        # Neither the count of lines nor where they break is the tokens': the clock's.
        assert len(pieces) <= len(WORDS) // 2
        assert isinstance(mine[-1], FinishEvent)  # nothing of an answer after its done line
    # A slice lists its pieces in display order, whoever wrote first (B did).
    first_two = [e.instance_id for e in events[:2]]
    assert first_two == [A, B]


def test_a_slow_stream_still_sends_each_slice_once_it_ends() -> None:
    events = collect(gap_s=0.03, slice_s=0.01)

    pieces = [e.text for e in events if isinstance(e, TokenEvent) and e.instance_id == A]
    assert "".join(pieces) == "".join(WORDS)
    assert len(pieces) == len(WORDS)  # nothing held back past its slice
