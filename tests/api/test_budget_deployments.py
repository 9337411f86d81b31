"""Processes on one Redis (a real one): the budget's limits are one shared value (the smallest of
the live processes'; one set differently says so loudly), a process that dies gives its queue
tickets and grants back as soon as its lease runs out, and two deployments (two databases) on one
Redis share neither budget, rate limits nor stop signals."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from arena.errors import InvalidInput
from arena.storage.redis_namespace import deployment_namespace, redis_namespace
from arena.storage.shared_state import connect
from arena.web.app import SERVER_OPTIONS, create_app
from arena.web.auth.budget_redis import RedisBudget
from arena.web.auth.limits import RateLimits
from arena.web.stop_signals import SharedStops
from arena.web.streaming import RunningStreams
from tests.support.doubles.ollama import OllamaDouble
from tests.support.fixtures import module_double
from tests.support.server import make_settings, ndjson_lines, serving

pytestmark = pytest.mark.timeout(60)
LLAMA = "ollama:llama3.2:1b"
double = module_double


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(scenario(), 40))


@asynccontextmanager
async def process(url: str, **settings: Any) -> AsyncIterator[RedisBudget]:
    """One server process's budget, with a Redis connection of its own."""
    client = connect(url)
    budget = RedisBudget(client, **{"per_user": 8, "total": 3, "queue_timeout_s": 10.0, **settings})
    try:
        yield budget
    finally:
        await budget.aclose()
        await client.aclose()


def test_processes_set_differently_all_use_the_smallest_limits_and_say_so(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with process(redis_url, total=4, per_user=4) as small, process(redis_url, total=40, per_user=40) as big:
            await small.start()
            with caplog.at_level(logging.WARNING, logger="arena.web.auth.budget_redis"):
                await big.start()
            [warning] = [r.getMessage() for r in caplog.records if "DIFFERENT GENERATION LIMITS" in r.getMessage()]
            assert "ARENA_MAX_GENERATIONS=40" in warning and "are 4 and 4" in warning
            assert (big.total, big.per_user) == (4, 4)
            held = [await big.claim(f"user:{n}", 1) for n in range(4)]
            waiting = await big.request("user:9", 1)
            assert waiting.units is None, "the process set to 40 granted past the shared 4"
            with pytest.raises(InvalidInput) as too_big:
                await big.request("user:8", 5)
            assert "at most 4" in str(too_big.value)
            held[0].release()
            assert (await asyncio.wait_for(waiting.granted(), 5)).held == 1

    run(scenario)


def test_a_process_that_stops_takes_its_smaller_limits_with_it_at_once(redis_url: str) -> None:
    """Seen in an outside pass: a stopped process's limit of 4 held the others for its whole lease."""

    async def scenario() -> None:
        async with process(redis_url, total=40, per_user=40) as big:
            async with process(redis_url, total=4, per_user=4) as small:
                await small.start()
                await big.start()
                held = [await big.claim(f"user:{n}", 1) for n in range(4)]
                assert (await big.request("user:9", 1)).units is None  # the shared 4 holds
            # `small` has stopped: the next claim already sees only `big`'s own limits.
            more = [await big.claim(f"user:{n}", 1) for n in range(10, 20)]
            assert len(more) == 10
            for units in (*held, *more):
                units.release()

    run(scenario)


def test_a_dead_processs_tickets_and_grants_go_back_when_its_lease_runs_out(redis_url: str) -> None:
    async def scenario() -> float:
        async with process(redis_url, total=1) as live, process(redis_url, total=1, lease_s=1.0) as doomed:
            held = await live.claim("user:1", 1)
            await doomed.request("user:2", 1)  # waits; its process is then killed (-9): nobody polls it
            later = await live.request("user:3", 1)
            assert doomed._heartbeat is not None
            doomed._heartbeat.cancel()
            killed = time.monotonic()
            held.release()  # the unit goes to the dead process's ticket, first in the queue
            await asyncio.wait_for(later.granted(), 8)
            return time.monotonic() - killed

    waited = run(scenario)
    assert waited < 4, f"the queue stood still {waited:.1f} s behind a dead process (its lease is 1 s)"


def test_the_namespace_is_the_database_without_its_password() -> None:
    one = redis_namespace("postgresql+psycopg://arena:secret@db:5432/arena")
    assert redis_namespace("postgresql+psycopg://arena:rotated@db:5432/arena") == one
    assert redis_namespace("postgresql+psycopg://arena:secret@db:5432/other") != one
    assert "secret" not in one and one.startswith("arena:")


def test_one_database_spelled_differently_is_one_deployment_and_another_schema_is_not() -> None:
    """Seen in an outside pass: `localhost` vs `127.0.0.1` split one deployment's limits in two,
    and a URL selecting another schema merged two deployments."""
    local = redis_namespace("postgresql+psycopg://arena:pw@127.0.0.1:5432/arena")
    for same in (
        "postgresql+psycopg://arena:pw@localhost/arena",  # another name for loopback, the default port
        "postgresql://other_user:pw@LOCALHOST:5432/arena",  # another driver, another user
        "postgresql+psycopg://arena:pw@127.0.0.1:5432/arena?connect_timeout=5",  # a driver option
    ):
        assert redis_namespace(same) == local, same
    other_schema = "postgresql+psycopg://arena:pw@127.0.0.1:5432/arena?options=-csearch_path%3Db"
    assert redis_namespace(other_schema) != local
    assert redis_namespace("postgresql+psycopg://arena:pw@127.0.0.1:5433/arena") != local


def test_an_explicit_namespace_names_the_deployment_whatever_the_url(tmp_path: Path) -> None:
    named = [
        deployment_namespace(make_settings(tmp_path, database_url=url, redis_namespace="team-a"))
        for url in ("postgresql+psycopg://a@10.0.0.5/arena", "postgresql+psycopg://a@pooler.lan:6432/arena")
    ]
    assert named == ["arena:team-a", "arena:team-a"]


def test_two_deployments_on_one_redis_share_no_rate_limits(tmp_path: Path, redis_url: str) -> None:
    async def scenario() -> list[bool]:
        deployments = [make_settings(tmp_path / name, rate_limit_chat="1/minute") for name in ("a", "a", "b")]
        clients = [connect(redis_url) for _ in deployments]
        try:
            limits = [RateLimits.from_settings(s, redis=c) for s, c in zip(deployments, clients, strict=True)]
            return [await each.hit("chat", "ip:1") is None for each in limits]
        finally:
            for client in clients:
                await client.aclose()

    # The second process of deployment a shares its window; deployment b has its own.
    assert run(scenario) == [True, False, True]


def comparison(count: int) -> dict[str, object]:
    return {"message": "hi", "model_instances": [{"model": LLAMA, "temperature": 0.1 * (n + 1)} for n in range(count)]}


@contextmanager
def two_deployments(tmp_path: Path, double: OllamaDouble, redis_url: str) -> Iterator[tuple[str, str]]:
    """Two servers with databases of their own (two deployments), pointed at one Redis."""
    with ExitStack() as stack:
        urls = []
        for name in ("one", "two"):
            settings = make_settings(
                tmp_path / name, ollama_hosts=[double.url], embedded_enabled=False, max_generations_setting=2
            )
            app = create_app(settings)
            app.state.redis = connect(redis_url)  # as ARENA_REDIS_URL sets it
            urls.append(stack.enter_context(serving(app, what="an arena process", lifespan="on", **SERVER_OPTIONS)))
        yield urls[0], urls[1]


def test_two_deployments_on_one_redis_share_no_budget(tmp_path: Path, double: OllamaDouble, redis_url: str) -> None:
    double.reply, double.token_delay, double.first_token_delay = [f" w{i}" for i in range(30)], 0.05, 0.0
    try:
        with two_deployments(tmp_path, double, redis_url) as (one, two):
            with httpx.Client(base_url=one, timeout=60) as first, httpx.Client(base_url=two, timeout=60) as second:
                with first.stream("POST", "/api/stream_chat?format=arena", json=comparison(2)) as running:
                    head = ndjson_lines(running)
                    next(head)  # deployment one's whole budget of 2 is taken
                    with second.stream("POST", "/api/stream_chat?format=arena", json=comparison(2)) as other:
                        lines = ndjson_lines(other)
                        assert "queued" not in next(lines), "another deployment's streams took this one's budget"
                        list(lines)
                    list(head)
    finally:
        double.token_delay = 0.0


def test_two_deployments_on_one_redis_see_and_stop_only_their_own_streams(redis_url: str) -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        clients = [connect(redis_url) for _ in range(3)]
        try:
            here, same, elsewhere = (
                SharedStops(client, RunningStreams(), namespace=redis_namespace(f"sqlite:////srv/{name}/arena.db"))
                for client, name in zip(clients, ("a", "a", "b"), strict=True)
            )
            await here.announce([(7, "0")])
            return await same.is_running(7, "0"), await elsewhere.is_running(7, "0"), await elsewhere.stop(7, "0")
        finally:
            for client in clients:
                await client.aclose()

    # Deployment a's other process sees the stream; deployment b neither sees nor stops it.
    assert run(scenario) == (True, False, False)
