"""`compare` in process, against a scripted engine: fan-out, failures kept apart, stops, timeouts.

No server and no model: each test runs in milliseconds, so the rules of the fan-out are pinned
here and the HTTP tests only need to show they reach the wire.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from arena.engines.base import Message, SamplingOptions
from arena.engines.router import Router
from arena.errors import EngineError, EngineRejected, EngineTimeout
from arena.evaluation.conversation.compare import Event, FinishEvent, Target, TokenEvent, compare
from tests.support.doubles.scripted_engine import Script, ScriptedEngine

pytestmark = pytest.mark.anyio

QUESTION = [Message(role="user", content="Why is the sky blue?")]


def target(name: str) -> Target:
    return Target(instance_id=f"id-{name}", model=f"ollama:{name}", options=SamplingOptions(), messages=QUESTION)


class RecordingSink:
    """Hears what `compare` tells a recorder: every start, token and finish, per instance."""

    def __init__(self) -> None:
        self.starts: list[str] = []
        self.tokens: dict[str, list[str]] = defaultdict(list)
        self.ends: dict[str, FinishEvent] = {}

    def started(self, target: Target) -> None:
        self.starts.append(target.instance_id)

    def token(self, target: Target, text: str) -> None:
        self.tokens[target.instance_id].append(text)

    def finished(self, target: Target, event: FinishEvent) -> None:
        assert target.instance_id not in self.ends, "an instance finished twice"
        self.ends[target.instance_id] = event


async def run(router: Router, targets: list[Target], **kwargs: object) -> list[Event]:
    return [event async for event in compare(router=router, targets=targets, **kwargs)]  # type: ignore[arg-type]


def finishes(events: list[Event]) -> dict[str, FinishEvent]:
    done = [event for event in events if isinstance(event, FinishEvent)]
    assert len(done) == len({event.instance_id for event in done}), "an instance finished twice"
    return {event.instance_id: event for event in done}


def texts(events: list[Event]) -> dict[str, str]:
    joined: dict[str, str] = defaultdict(str)
    for event in events:
        if isinstance(event, TokenEvent):
            joined[event.instance_id] += event.text
    return dict(joined)


async def test_every_instance_gets_the_turn_and_ends_with_one_finish_event() -> None:
    engine = ScriptedEngine({name: Script(tokens=[f"{name} ", "says ", "hi"]) for name in ("a", "b", "c")})
    targets = [target("a"), target("b"), target("c")]

    events = await run(Router(engines=[engine]), targets)

    done = finishes(events)
    assert set(done) == {"id-a", "id-b", "id-c"}
    assert {iid: event.status for iid, event in done.items()} == dict.fromkeys(done, "ok")
    assert texts(events) == {"id-a": "a says hi", "id-b": "b says hi", "id-c": "c says hi"}
    assert {iid: event.text for iid, event in done.items()} == texts(events)
    for iid in done:  # nothing of an instance comes after its finish
        own = [event for event in events if event.instance_id == iid]
        assert isinstance(own[-1], FinishEvent) and not any(isinstance(e, FinishEvent) for e in own[:-1])
    assert [r.model for r in engine.requests] == ["a", "b", "c"]  # the router strips the prefix
    assert all(r.messages == QUESTION for r in engine.requests)
    assert done["id-a"].metrics is not None and done["id-a"].metrics.tokens == 3  # the engine's count


async def test_a_failing_instance_ends_in_error_and_the_others_still_finish() -> None:
    engine = ScriptedEngine(
        {
            "good": Script(tokens=["fine", " answer"]),
            "rejected": Script(tokens=["half"], fail=EngineRejected("the model refused the request")),
            "buggy": Script(tokens=[], fail=RuntimeError("index out of range")),
        }
    )
    sink = RecordingSink()

    events = await run(Router(engines=[engine]), [target("good"), target("rejected"), target("buggy")], sink=sink)

    done = finishes(events)
    assert (done["id-good"].status, done["id-good"].text) == ("ok", "fine answer")
    assert (done["id-rejected"].status, done["id-rejected"].text) == ("error", "half")
    assert done["id-rejected"].error == "the model refused the request"
    assert isinstance(done["id-rejected"].exception, EngineRejected)
    # An engine bug is reported as an engine error, never raised into the other instances.
    assert done["id-buggy"].status == "error"
    assert done["id-buggy"].error == "unexpected engine failure: RuntimeError: index out of range"
    assert isinstance(done["id-buggy"].exception, EngineError)
    assert sink.starts == ["id-good", "id-rejected", "id-buggy"]
    assert sink.ends == done
    assert dict(sink.tokens) == {"id-good": ["fine", " answer"], "id-rejected": ["half"]}


async def test_a_stopped_instance_keeps_its_partial_text_and_the_others_go_on() -> None:
    engine = ScriptedEngine({"talker": Script(tokens=["Once", " upon"], hold=True), "quick": Script(tokens=["Done."])})
    stop = asyncio.Event()
    events: list[Event] = []

    async for event in compare(
        router=Router(engines=[engine]), targets=[target("talker"), target("quick")], stops={"id-talker": stop}
    ):
        events.append(event)
        if texts(events).get("id-talker") == "Once upon":
            stop.set()

    done = finishes(events)
    assert (done["id-talker"].status, done["id-talker"].text) == ("stopped", "Once upon")
    assert done["id-talker"].error == "stopped before the answer finished"
    assert (done["id-quick"].status, done["id-quick"].text) == ("ok", "Done.")
    assert "talker" in engine.closed  # the stop reached the engine's stream


async def test_closing_the_stream_stops_every_instance_and_each_is_still_recorded() -> None:
    engine = ScriptedEngine({"one": Script(tokens=["a"], hold=True), "two": Script(tokens=["b"], hold=True)})
    sink = RecordingSink()
    stream = compare(router=Router(engines=[engine]), targets=[target("one"), target("two")], sink=sink)

    async for event in stream:
        if isinstance(event, TokenEvent):
            break  # the client went away after the first token
    await stream.aclose()

    assert {iid: event.status for iid, event in sink.ends.items()} == {"id-one": "stopped", "id-two": "stopped"}
    assert sorted(engine.closed) == ["one", "two"]


async def test_an_instance_past_the_timeout_ends_in_a_timeout_error_with_its_text() -> None:
    engine = ScriptedEngine({"slow": Script(tokens=["partial"], hold=True)})

    events = await run(Router(engines=[engine]), [target("slow")], timeout_s=0.05)

    (only,) = finishes(events).values()
    assert (only.status, only.text) == ("error", "partial")
    assert isinstance(only.exception, EngineTimeout)
    assert "REQUEST_TIMEOUT" in (only.error or "")
