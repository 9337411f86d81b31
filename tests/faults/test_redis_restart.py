"""Redis (a server of the test's own) restarts while two processes stream: streams running across
the gap end with a done line per instance, requests during the gap get a 503 with Retry-After or
succeed (none hangs, none is a 500), and once Redis is back everything works again."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.support.cluster import EVALUATOR_PASSWORD, Cluster, cluster_env, evaluator_tokens, prepare_database
from tests.support.doubles.ollama import OllamaDouble
from tests.support.evaluators import Turn, stream_turn, turn_body
from tests.support.faults import database_url
from tests.support.redis_server import RedisServer

STREAMS = 4
GAP_S = 2.0


def acceptable(turn: Turn) -> bool:
    if turn.accepted:
        return turn.ended
    return turn.status_code == 503 and turn.retry_after is not None


async def login(client: httpx.AsyncClient, url: str, username: str) -> httpx.Response:
    return await client.post(f"{url}/api/auth/login", json={"username": username, "password": EVALUATOR_PASSWORD})


@pytest.mark.postgres
@pytest.mark.timeout(120)
def test_redis_restart_under_load(tmp_path: Path, double: OllamaDouble) -> None:
    double.reply = [f" w{n}" for n in range(40)]
    double.token_delay = 0.1  # 4 s answers: they run across the gap
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    try:
        with database_url("postgresql", tmp_path) as url:
            env = cluster_env(tmp_path / "data", ollama_url=double.url, database_url=url, redis_url=redis.url)
            prepare_database(env)
            tokens = evaluator_tokens(env, STREAMS + 2)
            with Cluster(size=2, directory=tmp_path / "cluster", env=env) as cluster:
                urls = cluster.urls

                async def scenario() -> tuple[list[Turn], list[Turn], list[httpx.Response]]:
                    async with httpx.AsyncClient(timeout=30) as client:
                        running = [
                            asyncio.create_task(stream_turn(client, urls[n % 2], turn_body(f"s{n}"), token=tokens[n]))
                            for n in range(STREAMS)
                        ]
                        await asyncio.sleep(1.0)
                        await asyncio.to_thread(redis.stop)
                        gap_turns = await asyncio.gather(
                            *(
                                stream_turn(
                                    client, u, turn_body("gap", tokens=1), token=tokens[STREAMS + n], timeout=10
                                )
                                for n, u in enumerate(urls)
                            )
                        )
                        gap_logins = [await login(client, u, "evaluator0") for u in urls]
                        await asyncio.sleep(GAP_S)
                        await asyncio.to_thread(redis.start)
                        return list(await asyncio.gather(*running)), list(gap_turns), gap_logins

                started = time.monotonic()
                turns, gap_turns, gap_logins = asyncio.run(scenario())
                assert time.monotonic() - started < 60
                assert all(t.accepted and t.ended for t in turns), [t.kind for t in turns]
                assert all(acceptable(t) for t in gap_turns), [t.kind for t in gap_turns]
                for response in gap_logins:
                    assert response.status_code in (200, 503), response.text
                    assert response.status_code == 200 or "retry-after" in response.headers
                    assert response.headers["content-type"].startswith("application/json")

                async def afterwards() -> tuple[list[Turn], list[httpx.Response]]:
                    async with httpx.AsyncClient(timeout=30) as client:
                        back = await asyncio.gather(
                            *(stream_turn(client, urls[n % 2], turn_body("back"), token=tokens[n]) for n in range(4))
                        )
                        logins = [await login(client, u, f"evaluator{n + 1}") for n, u in enumerate(urls)]
                        return list(back), logins

                back, logins = asyncio.run(afterwards())
                assert [t.kind for t in back] == [None] * 4
                assert [r.status_code for r in logins] == [200, 200]
    finally:
        redis.stop()
