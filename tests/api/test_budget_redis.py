"""The generation budget shared by several processes through a real Redis (issue 12): two budgets
on one Redis stand for two server processes. They share the total and each user's cap, keep one
fair queue, and a process that stops renewing its lease (killed with -9) frees its units."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import HTTPException
from redis.exceptions import ConnectionError as RedisConnectionError

from arena.errors import ServerBusy, SharedStateUnavailable
from arena.storage.shared_state import connect
from arena.web.auth.budget_redis import RedisBudget
from tests.support.process import free_port
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.timeout(60)


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(scenario(), 40))


@asynccontextmanager
async def processes(url: str, count: int = 2, **limits: Any) -> AsyncIterator[list[RedisBudget]]:
    """`count` budgets on one Redis, each with a connection of its own, as separate processes have."""
    settings = {"per_user": 8, "total": 3, "queue_timeout_s": 10.0, **limits}
    clients = [connect(url) for _ in range(count)]
    budgets = [RedisBudget(client, **settings) for client in clients]
    try:
        yield budgets
    finally:
        for budget, client in zip(budgets, clients, strict=True):
            await budget.aclose()
            await client.aclose()


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "never happened"
        await asyncio.sleep(0.05)


def test_two_processes_share_the_total(redis_url: str) -> None:
    async def scenario() -> None:
        async with processes(redis_url) as (one, two):
            held = await one.claim("user:1", 2)
            assert (await two.claim("user:2", 1)).held == 1  # the third unit, from the other process
            assert await two.usage("user:1") == (2, 3)
            waiting = await two.request("user:3", 1)
            assert waiting.units is None  # all 3 are taken, across both processes
            held.release(1)  # in process one: process two's waiter gets that unit
            units = await asyncio.wait_for(waiting.granted(), 5)
            assert units.held == 1 and (await one.usage("user:3")) == (1, 3)

    run(scenario)


def test_the_cap_per_user_counts_every_process(redis_url: str) -> None:
    async def scenario() -> None:
        async with processes(redis_url, per_user=3) as (one, two):
            await one.claim("user:1", 2)
            with pytest.raises(HTTPException) as refused:
                await two.request("user:1", 2)
            assert refused.value.status_code == 429 and "2 of yours" in str(refused.value.detail)
            assert (await two.claim("user:1", 1)).held == 1

    run(scenario)


def test_one_fair_queue_across_processes(redis_url: str) -> None:
    async def scenario() -> list[str]:
        async with processes(redis_url, total=1) as (one, two):
            blocker = await one.claim("user:0", 1)
            order: list[str] = []

            async def ask(budget: RedisBudget, name: str) -> None:
                units = await budget.claim(name.split("#")[0], 1)
                order.append(name)
                await asyncio.sleep(0.05)
                units.release()

            tasks = []
            for n in range(4):  # user A's burst, through process one
                tasks.append(asyncio.create_task(ask(one, f"user:a#{n}")))
                await asyncio.sleep(0.05)
            tasks.append(asyncio.create_task(ask(two, "user:b#0")))  # user B, through process two
            await asyncio.sleep(0.05)
            bench_done = asyncio.Event()

            async def bench() -> None:
                async with two.wait("user:c"):
                    order.append("bench")
                bench_done.set()

            tasks.append(asyncio.create_task(bench()))
            await asyncio.sleep(0.05)
            blocker.release()
            await asyncio.gather(*tasks)
            return order

    order = run(scenario)
    assert order == ["user:a#0", "user:b#0", "user:a#1", "user:a#2", "user:a#3", "bench"], order


def test_a_process_that_stops_renewing_its_lease_frees_its_units(redis_url: str) -> None:
    async def scenario() -> None:
        async with processes(redis_url, lease_s=1.0) as (one, two):
            await one.claim("user:1", 3)
            await asyncio.sleep(1.5)  # past a lease: a live process's heartbeat keeps its units
            assert await two.usage("user:1") == (3, 3)
            waiting = await two.request("user:2", 1)
            assert waiting.units is None
            assert one._heartbeat is not None
            one._heartbeat.cancel()  # process one is killed (-9): no release, no more heartbeats
            units = await asyncio.wait_for(waiting.granted(), 5)  # its units come back within the lease
            assert units.held == 1 and await two.usage("user:1") == (0, 1)
            assert (await two.claim("user:3", 2)).held == 2

    run(scenario)


def test_units_granted_to_a_waiter_that_never_comes_go_back(redis_url: str) -> None:
    async def scenario() -> None:
        async with processes(redis_url, total=1, ticket_ttl_s=1.0) as (one, two):
            held = await one.claim("user:0", 1)
            ghost = await one.request("user:1", 1)  # its waiter vanishes: nobody polls this ticket again
            assert ghost.units is None
            behind = await two.request("user:2", 1)
            held.release()  # granted to the ghost, which never comes for it...
            units = await asyncio.wait_for(behind.granted(), 5)  # ...so it goes on, within the ticket's TTL
            assert units.held == 1 and await two.usage("user:1") == (0, 1)

    run(scenario)


def test_a_wait_is_bounded_and_a_leaver_takes_nothing(redis_url: str) -> None:
    async def scenario() -> None:
        async with processes(redis_url, total=1, queue_timeout_s=0.5) as (one, two):
            held = await one.claim("user:0", 1)
            with pytest.raises(ServerBusy):
                await two.claim("user:1", 1)
            gone = asyncio.Event()
            leaving = asyncio.create_task(two.claim("user:2", 1, client_gone=gone.wait))
            await asyncio.sleep(0.1)
            gone.set()
            with pytest.raises(HTTPException):
                await leaving
            held.release()
            await eventually(lambda: _total_is(one, 0))
            assert (await one.claim("user:3", 1)).held == 1  # nobody was left in the queue before it

    run(scenario)


async def _total_is(budget: RedisBudget, expected: int) -> bool:
    return (await budget.usage("nobody"))[1] == expected


async def _holds(budget: RedisBudget, key: str, expected: int) -> bool:
    return (await budget.usage(key))[0] == expected


def test_an_unreachable_redis_refuses_rather_than_counting_alone() -> None:
    async def scenario() -> None:
        client = connect(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
        budget = RedisBudget(client, per_user=8, total=3, queue_timeout_s=10)
        try:
            with pytest.raises(SharedStateUnavailable):
                await budget.claim("user:1", 1)
        finally:
            await budget.aclose()
            await client.aclose()

    run(scenario)


def test_redis_going_away_while_a_request_waits_is_a_503_not_a_free_pass(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")  # a server of this test's own, to stop
    server.start()

    async def scenario() -> None:
        async with processes(server.url, total=1) as (one, two):
            await one.claim("user:1", 1)
            waiting = await two.request("user:2", 1)
            server.stop()
            with pytest.raises(SharedStateUnavailable):
                await asyncio.wait_for(waiting.granted(), 10)
            assert waiting.units is None

    try:
        run(scenario)
    finally:
        server.stop()


def test_a_redis_restart_forgets_nothing_that_runs(tmp_path: Path) -> None:
    """Redis without persistence restarts while an admin runs 2 streams (their cap): within one
    heartbeat each process has written back what it holds, so the cap and the total hold again."""
    server = RedisServer(tmp_path / "redis")  # a server of this test's own, to restart
    server.start()

    async def scenario() -> None:
        async with processes(server.url, per_user=2, total=3, lease_s=1.5) as (one, two):
            streams = [await one.claim("user:admin", 1) for _ in range(2)]
            server.stop()
            server.start()  # same port, empty: every key is gone
            await eventually(lambda: _total_is(two, 2), within=3)  # one heartbeat (0.5 s here)
            assert await two.usage("user:admin") == (2, 2)
            with pytest.raises(HTTPException) as refused:
                await two.request("user:admin", 1)
            assert refused.value.status_code == 429
            assert (await two.claim("user:other", 1)).held == 1  # the third and last unit
            waiting = await two.request("user:third", 1)
            assert waiting.units is None  # the total holds: 3 run, across both processes
            streams[0].release()  # an answer that started before the restart ends: its unit goes on
            assert (await asyncio.wait_for(waiting.granted(), 5)).held == 1
            assert await one.usage("user:admin") == (1, 3)

    try:
        run(scenario)
    finally:
        server.stop()


def test_a_release_redis_missed_is_set_right_by_the_next_heartbeat(redis_url: str) -> None:
    async def scenario() -> None:
        async with processes(redis_url, lease_s=1.5) as (one, two):
            held = await one.claim("user:1", 2)
            script = one._scripts["release"]

            async def lost(*_args: Any, **_kwargs: Any) -> Any:
                one._scripts["release"] = script
                raise RedisConnectionError("connection reset")  # the fault: this release never reaches Redis

            one._scripts["release"] = lost
            held.release(1)
            await asyncio.sleep(0.05)
            assert await two.usage("user:1") == (2, 2)  # Redis still counts it...
            await eventually(lambda: _total_is(two, 1), within=3)  # ...until the next beat (0.5 s)
            assert (await two.claim("user:2", 2)).held == 2

    run(scenario)


def test_a_heartbeat_keeps_units_granted_to_a_waiter_that_has_not_come_yet(redis_url: str) -> None:
    async def scenario() -> None:
        async with processes(redis_url, total=2) as (one, two):
            held = await one.claim("user:1", 2)
            waiting = await two.request("user:2", 1)
            assert waiting.units is None
            held.release(1)  # granted in Redis to process two's ticket; its waiter has not looked yet
            await eventually(lambda: _holds(one, "user:2", 1))
            await two.renew()  # process two's count has no such unit yet: the rewrite must keep it
            assert await one.usage("user:2") == (1, 2)
            assert (await one.request("user:3", 1)).units is None  # the total still holds
            assert (await asyncio.wait_for(waiting.granted(), 5)).held == 1
            await two.renew()
            assert await one.usage("user:2") == (1, 2)

    run(scenario)


def test_heartbeats_amid_claims_and_releases_count_exactly(redis_url: str) -> None:
    """A rewrite racing claims, grants and releases of its own process must neither lose a unit
    (the total overrun) nor keep one (the count never coming back to 0)."""

    async def scenario() -> None:
        async with processes(redis_url, per_user=100, total=3, heartbeat_s=0.005, ticket_ttl_s=30) as budgets:
            running = 0
            most = 0

            async def answer(n: int) -> None:
                nonlocal running, most
                async with await budgets[n % 2].claim(f"user:{n % 5}", 1):
                    running += 1
                    most = max(most, running)
                    await asyncio.sleep(0.001 * (n % 7))
                    running -= 1

            for _ in range(3):
                await asyncio.gather(*(answer(n) for n in range(40)))
            assert most <= 3
            await eventually(lambda: _total_is(budgets[0], 0), within=3)
            await asyncio.sleep(0.1)  # more rewrites: still nothing held
            assert await budgets[0].usage("user:1") == (0, 0)

    run(scenario)


def test_a_waiter_in_the_queue_across_a_redis_restart_hears_503_not_silence(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()

    async def scenario() -> None:
        async with processes(server.url, total=1, lease_s=1.5) as (one, two):
            held = await one.claim("user:1", 1)
            waiting = [await budget.request("user:2", 1) for budget in (one, two)]
            assert all(claim.units is None for claim in waiting)
            server.stop()
            server.start()  # the queue is gone with everything else
            for claim in waiting:  # its place was lost: a clear 503 to retry, never a wait without end
                with pytest.raises(SharedStateUnavailable):
                    await asyncio.wait_for(claim.granted(), 5)
            held.release()
            assert (await two.claim("user:2", 1)).held == 1  # the retry is served

    try:
        run(scenario)
    finally:
        server.stop()
