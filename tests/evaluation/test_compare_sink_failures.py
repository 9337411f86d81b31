"""A sink that fails (the database is down) never keeps an instance from ending: its
FinishEvent still comes, as an error saying the answer was not saved, and the others go on."""

from __future__ import annotations

import asyncio

import pytest

from arena.engines.router import Router
from arena.errors import StorageUnavailable
from arena.evaluation.conversation.compare import UNSAVED_ERROR, Comparison, FinishEvent, Target
from tests.evaluation.test_compare import finishes, run, target, texts
from tests.support.doubles.scripted_engine import Script, ScriptedEngine

pytestmark = pytest.mark.anyio


class FailingSink:
    """Fails to record the start or the end of the instances named."""

    def __init__(self, *, start: set[str] = frozenset(), finish: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.fail_start, self.fail_finish = start, finish

    def started(self, target: Target) -> None:
        if target.instance_id in self.fail_start:
            raise OSError("No space left on device")

    def token(self, target: Target, text: str) -> None:
        pass

    def finished(self, target: Target, event: FinishEvent) -> None:
        if target.instance_id in self.fail_finish:
            raise OSError("No space left on device")


async def test_a_failed_record_of_the_end_is_an_error_finish_with_the_whole_text() -> None:
    engine = ScriptedEngine({name: Script(tokens=[name, " done"]) for name in ("a", "b", "c")})
    sink = FailingSink(start={"id-c"}, finish={"id-a"})

    events = await asyncio.wait_for(
        run(Router(engines=[engine]), [target("a"), target("b"), target("c")], sink=sink), 10
    )

    done = finishes(events)
    assert set(done) == {"id-a", "id-b", "id-c"}
    assert (done["id-a"].status, done["id-a"].text) == ("error", "a done")
    assert done["id-a"].error == UNSAVED_ERROR and "tried again" in UNSAVED_ERROR
    assert isinstance(done["id-a"].exception, StorageUnavailable)
    assert done["id-b"].status == "ok"
    # Nowhere to record it: not generated at all.
    assert (done["id-c"].status, done["id-c"].text) == ("error", "")
    assert "id-c" not in texts(events) and [r.model for r in engine.requests] == ["a", "b"]


async def test_a_stop_whose_record_fails_still_ends_the_instance() -> None:
    engine = ScriptedEngine({"talker": Script(tokens=["Once"], hold=True)})
    stop = asyncio.Event()
    comparison = Comparison(
        router=Router(engines=[engine]),
        targets=[target("talker")],
        sink=FailingSink(finish={"id-talker"}),
        stops={"id-talker": stop},
    )
    seen = []
    async with asyncio.timeout(10):
        async for event in comparison.events():
            seen.append(event)
            stop.set()
    await comparison.aclose()
    [end] = finishes(seen).values()
    assert end.status == "error" and end.error is not None
    assert end.error.startswith("the answer could not be saved") and "stopped" in end.error


async def test_an_end_that_could_not_be_recorded_later_reads_as_an_error() -> None:
    engine = ScriptedEngine({"a": Script(tokens=["quick"])})
    comparison = Comparison(router=Router(engines=[engine]), targets=[target("a")])
    await asyncio.sleep(0.05)  # finished before anyone could write it down
    comparison.record_failed("id-a", OSError("read-only file system"))
    async with asyncio.timeout(10):
        seen = [event async for event in comparison.events()]
    await comparison.aclose()
    [end] = finishes(seen).values()
    assert (end.status, end.text) == ("error", "quick")
    assert isinstance(end.exception, StorageUnavailable)
