"""Tokens of a masked stream in time slices, not one line per model token.

One line per token would tell a client each hidden answer's token count (count the lines) and
its tokenizer (where the pieces break: " glad" + "'re"), hence its model family. While a
conversation is masked, each instance's tokens are gathered and sent as one piece per instance
on a fixed clock (every ``SLICE_S`` from the start of the stream): a line says only that some
text arrived in that slice. The text, joined, is unchanged; an instance's pending text goes out
just before its done line. What remains (how many slices an answer spans) is SECURITY.md's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

from arena.evaluation.conversation.compare import Event, FinishEvent, TokenEvent

SLICE_S = 0.2


async def sliced(
    events: AsyncIterator[Event], *, order: Sequence[str], slice_s: float = SLICE_S
) -> AsyncIterator[Event]:
    """``events`` with each instance's tokens merged per time slice; ``order`` (instance ids in
    display order) is the order of one slice's pieces, so it says nothing of who came first."""
    pending: dict[str, TokenEvent] = {}
    rank = {instance_id: n for n, instance_id in enumerate(order)}
    started = time.monotonic()
    next_event: asyncio.Future[Event] | None = None

    def flush() -> list[Event]:
        pieces = sorted(pending.values(), key=lambda event: rank.get(event.instance_id, len(rank)))
        pending.clear()
        return list(pieces)

    try:
        while True:
            if next_event is None:
                # Never cancelled while it waits: cancelling would throw into `events`.
                next_event = asyncio.ensure_future(anext(events))
            now = time.monotonic()
            tick = started + (int((now - started) / slice_s) + 1) * slice_s
            done, _ = await asyncio.wait({next_event}, timeout=tick - now if pending else None)
            if not done:  # the slice ended: send what each instance wrote in it
                for piece in flush():
                    yield piece
                continue
            try:
                event = next_event.result()
            except StopAsyncIteration:
                break
            finally:
                next_event = None
            if isinstance(event, TokenEvent):
                held = pending.get(event.instance_id)
                pending[event.instance_id] = (
                    event
                    if held is None
                    else TokenEvent(instance_id=event.instance_id, model=event.model, text=held.text + event.text)
                )
                continue
            if isinstance(event, FinishEvent) and event.instance_id in pending:
                yield pending.pop(event.instance_id)
            yield event
        for piece in flush():
            yield piece
    finally:
        if next_event is not None and not next_event.done():
            next_event.cancel()
