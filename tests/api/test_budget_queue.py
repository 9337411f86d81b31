"""The fair queue of the generation budget (issue 12), in one process: past ARENA_MAX_GENERATIONS a
request waits its turn — round-robin by user, interactive before background work — for a bounded
time; a request over its caller's cap is a 429 at once, never queued."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi import HTTPException

from arena.errors import ServerBusy
from arena.web.auth.budget_memory import MemoryBudget

pytestmark = pytest.mark.timeout(30)


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(scenario(), 20))


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_one_users_burst_does_not_starve_another() -> None:
    async def scenario() -> list[str]:
        budget = MemoryBudget(per_user=8, total=1, queue_timeout_s=10)
        blocker = await budget.claim("user:0", 1)
        order: list[str] = []

        async def ask(name: str) -> None:
            units = await budget.claim(name.split("#")[0], 1)
            order.append(name)
            await asyncio.sleep(0.01)
            units.release()

        tasks = []
        for name in [*(f"user:a#{n}" for n in range(5)), "user:b#0"]:
            tasks.append(asyncio.create_task(ask(name)))
            await settle()
        blocker.release()
        await asyncio.gather(*tasks)
        return order

    order = run(scenario)
    assert order[:2] == ["user:a#0", "user:b#0"], order  # B second, not sixth
    assert order[2:] == [f"user:a#{n}" for n in range(1, 5)]  # A's own in the order A sent them


def test_a_late_user_joins_the_next_round() -> None:
    async def scenario() -> list[str]:
        budget = MemoryBudget(per_user=8, total=1, queue_timeout_s=10)
        blocker = await budget.claim("user:0", 1)
        order: list[str] = []

        async def ask(name: str) -> None:
            units = await budget.claim(name.split("#")[0], 1)
            order.append(name)
            await asyncio.sleep(0.01)
            units.release()

        tasks = [asyncio.create_task(ask(f"user:a#{n}")) for n in range(3)]
        tasks.append(asyncio.create_task(ask("user:b#0")))
        await settle()
        blocker.release()
        await asyncio.sleep(0.005)  # a#0 runs; then C arrives
        tasks.append(asyncio.create_task(ask("user:c#0")))
        await asyncio.gather(*tasks)
        return order

    order = run(scenario)
    assert order.index("user:b#0") == 1
    assert order.index("user:c#0") < order.index("user:a#2"), order


def test_interactive_requests_go_before_background_work() -> None:
    async def scenario() -> list[str]:
        budget = MemoryBudget(per_user=8, total=1, queue_timeout_s=10)
        blocker = await budget.claim("user:0", 1)
        order: list[str] = []

        async def bench(name: str) -> None:
            async with budget.wait("user:bench"):
                order.append(name)
                await asyncio.sleep(0.01)

        async def chat(name: str) -> None:
            async with await budget.claim("user:chat", 1):
                order.append(name)
                await asyncio.sleep(0.01)

        tasks = [asyncio.create_task(bench("bench#0")), asyncio.create_task(bench("bench#1"))]
        await settle()
        tasks.append(asyncio.create_task(chat("chat#0")))  # arrives last, goes first
        await settle()
        blocker.release()
        await asyncio.gather(*tasks)
        return order

    assert run(scenario) == ["chat#0", "bench#0", "bench#1"]


def test_a_request_waits_no_longer_than_the_queue_timeout() -> None:
    async def scenario() -> None:
        budget = MemoryBudget(per_user=8, total=2, queue_timeout_s=0.3)
        held = await budget.claim("user:1", 2)
        started = asyncio.get_running_loop().time()
        with pytest.raises(ServerBusy) as refused:
            await budget.claim("user:2", 1)
        assert 0.25 <= asyncio.get_running_loop().time() - started < 2
        assert "busy" in str(refused.value) and "ARENA_QUEUE_TIMEOUT_S" in str(refused.value)
        assert refused.value.retry_after_s >= 1
        assert budget.waiting == 0  # it left the queue
        held.release()
        assert budget.in_use == 0 and (await budget.claim("user:2", 2)).held == 2

    run(scenario)


def test_over_the_callers_cap_is_a_429_at_once_never_queued() -> None:
    async def scenario() -> None:
        budget = MemoryBudget(per_user=3, total=3, queue_timeout_s=10)
        await budget.claim("user:1", 2)
        other = await budget.claim("user:2", 1)
        # The server is full; user 2 may queue 2 more (1 running + 2 waiting = their cap of 3)...
        queued = await budget.request("user:2", 2)
        assert queued.units is None and budget.waiting == 1
        # ...but not one more: running and waiting count against the cap, and that is a 429 at once.
        with pytest.raises(HTTPException) as refused:
            await budget.request("user:2", 1)
        assert refused.value.status_code == 429 and "ARENA_MAX_STREAMS_PER_USER" in str(refused.value.detail)
        with pytest.raises(HTTPException):
            await budget.claim("user:1", 2)  # 2 running + 2 > 3
        assert budget.waiting == 1
        await queued.close()
        other.release()

    run(scenario)


def test_a_client_that_leaves_leaves_the_queue_and_takes_no_units() -> None:
    async def scenario() -> None:
        budget = MemoryBudget(per_user=8, total=1, queue_timeout_s=10)
        held = await budget.claim("user:1", 1)
        gone = asyncio.Event()
        waiting = asyncio.create_task(budget.claim("user:2", 1, client_gone=gone.wait))
        behind = asyncio.create_task(budget.claim("user:3", 1))
        await settle()
        assert budget.waiting == 2
        gone.set()  # the client hung up
        with pytest.raises(HTTPException) as left:
            await waiting
        assert left.value.status_code == 499
        assert budget.waiting == 1 and budget.running("user:2") == 0
        # A cancelled waiter (a stream whose client left) leaves too.
        behind.cancel()
        await asyncio.gather(behind, return_exceptions=True)
        assert budget.waiting == 0
        held.release()
        assert budget.in_use == 0 and budget.running("user:3") == 0

    run(scenario)


def test_a_waiter_hears_its_place_as_it_moves_up() -> None:
    async def scenario() -> list[int]:
        budget = MemoryBudget(per_user=8, total=1, queue_timeout_s=10)
        held = await budget.claim("user:0", 1)
        first = await budget.request("user:1", 1)
        second = await budget.request("user:2", 1)
        seen: list[int] = []

        async def follow() -> None:
            async for ahead in second.positions():
                seen.append(ahead)

        following = asyncio.create_task(follow())
        await settle()
        held.release()  # user 1 goes: user 2 is next
        (await asyncio.wait_for(first.granted(), 1)).release()  # user 2 goes
        await asyncio.wait_for(following, 5)
        assert second.units is not None and second.units.held == 1
        return seen

    assert run(scenario) == [1, 0]


def test_a_multi_instance_comparison_is_not_passed_over_by_small_ones() -> None:
    async def scenario() -> None:
        budget = MemoryBudget(per_user=8, total=3, queue_timeout_s=10)
        held = [await budget.claim("user:0", 1) for _ in range(3)]
        big = await budget.request("user:1", 3)
        small = await budget.request("user:2", 1)
        held[0].release()
        assert big.units is None and small.units is None  # one free unit: the next in turn needs 3
        held[1].release()
        held[2].release()
        await asyncio.wait_for(big.granted(), 1)
        assert small.units is None
        await small.close()

    run(scenario)


def test_background_work_waits_and_a_cancelled_waiter_takes_none() -> None:
    async def scenario() -> None:
        budget = MemoryBudget(per_user=2, total=3, queue_timeout_s=10)
        chat = await budget.claim("user:1", 2)
        entered = asyncio.Event()

        async def item() -> None:
            async with budget.wait("user:1"):
                entered.set()
                await asyncio.sleep(3600)

        waiting, given_up = asyncio.create_task(item()), asyncio.create_task(item())
        await settle()
        assert not entered.is_set() and budget.running("user:1") == 2  # the owner's cap holds
        given_up.cancel()
        await asyncio.gather(given_up, return_exceptions=True)
        chat.release(1)  # one instance finished: one waiter gets its unit
        await asyncio.wait_for(entered.wait(), 1)
        assert budget.running("user:1") == 2 and budget.in_use == 2
        other = await budget.claim("user:2", 1)  # another user's claim fits the server's last unit
        other.release()
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        chat.release()
        chat.release()  # twice is harmless
        assert budget.running("user:1") == 0 and budget.in_use == 0 and budget.waiting == 0

    run(scenario)
