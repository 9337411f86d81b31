"""A judge run that reports as it goes: which call to the judge is running (which comparison,
which order) and how many tokens the judge has written in it so far, then the outcome.

The run is a task of its own; its consumer reads `Progress` items and finally the `JudgeOutcome`.
A consumer that stops reading (a client that cancelled, or left) closes the iterator, and that
cancels the run: the judge's generation is closed, which stops the engine, and nothing is
returned, so nothing can be stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Final

from arena.evaluation.judge.judges import StreamingJudge
from arena.evaluation.judge.task import JudgeOutcome, JudgeStep, JudgeTask, run_judge


@dataclass(frozen=True, kw_only=True)
class Progress:
    step: JudgeStep
    tokens: int  # pieces of text the judge has written in this step so far


_DONE: Final = object()


async def judge_with_progress(task: JudgeTask, *, judge: StreamingJudge) -> AsyncIterator[Progress | JudgeOutcome]:
    """Progress items as the judge works, then its outcome; the run's error is raised here.

    A slow consumer is never flooded: only the newest count of a step waits to be read."""
    queue: asyncio.Queue[Progress | object] = asyncio.Queue()
    current: list[Progress] = []  # the step running now, with its count

    def on_step(step: JudgeStep) -> None:
        current[:] = [Progress(step=step, tokens=0)]
        queue.put_nowait(current[0])

    def on_chunk(_text: str) -> None:
        if current:
            current[0] = replace(current[0], tokens=current[0].tokens + 1)
            queue.put_nowait(current[0])

    runner = asyncio.create_task(run_judge(task, judge=replace(judge, on_chunk=on_chunk), on_step=on_step))
    runner.add_done_callback(lambda _task: queue.put_nowait(_DONE))
    try:
        while True:
            item = await queue.get()
            while isinstance(item, Progress) and not queue.empty():
                following = queue.get_nowait()
                if not (isinstance(following, Progress) and following.step == item.step):
                    yield item  # a new step or the end: this step's last count still shows
                item = following
            if item is _DONE:
                yield runner.result()  # the outcome, or the run's error raised
                return
            assert isinstance(item, Progress)
            yield item
    finally:
        if not runner.done():
            runner.cancel()  # closes the judge's stream: the engine stops generating
            await asyncio.wait({runner})
