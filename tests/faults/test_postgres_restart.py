"""PostgreSQL (a cluster of the test's own) goes away for ~4 s while two processes stream: every
stream ends with a done line per instance within 30 s, requests made during the gap are a JSON
503 with Retry-After or are served whole, and no answer stays `streaming` once it is back."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from arena.storage.models import Response
from tests.support.cluster import Cluster, cluster_env, database_for, evaluator_tokens, prepare_database
from tests.support.doubles.ollama import OllamaDouble
from tests.support.evaluators import Turn, stream_turn, turn_body
from tests.support.own_postgres import OwnPostgres

STREAMS = 8
OUTAGE_S = 4.0
DONE_WITHIN_S = 30.0


def streaming_rows(env: dict[str, str]) -> int:
    database = database_for(env)
    try:
        with database.session() as session:
            return int(session.scalar(select(func.count()).where(Response.status == "streaming")) or 0)
    finally:
        database.dispose()


@pytest.mark.timeout(150)
def test_postgres_restart_under_load(tmp_path: Path, double: OllamaDouble, redis_url: str) -> None:
    double.reply = [f" w{n}" for n in range(100)]
    double.token_delay = 0.1
    with OwnPostgres() as postgres:
        env = cluster_env(tmp_path / "data", ollama_url=double.url, database_url=postgres.url, redis_url=redis_url)
        prepare_database(env)
        tokens = evaluator_tokens(env, STREAMS + 2)
        with Cluster(size=2, directory=tmp_path / "cluster", env=env) as cluster:

            async def scenario() -> tuple[list[Turn], list[Turn]]:
                async with httpx.AsyncClient() as client:
                    # Half end during the outage (their final write fails), half after it.
                    running = [
                        asyncio.create_task(
                            stream_turn(
                                client,
                                cluster.urls[n % 2],
                                turn_body(f"story {n}", tokens=25 if n < STREAMS // 2 else 80),
                                token=tokens[n],
                                timeout=DONE_WITHIN_S,
                            )
                        )
                        for n in range(STREAMS)
                    ]
                    await asyncio.sleep(1.0)
                    await asyncio.to_thread(postgres.stop)
                    await asyncio.sleep(1.0)
                    during = await asyncio.gather(
                        *(
                            stream_turn(
                                client, url, turn_body("in the gap", tokens=5), token=tokens[STREAMS + n], timeout=10
                            )
                            for n, url in enumerate(cluster.urls)
                        )
                    )
                    await asyncio.sleep(OUTAGE_S - 1.0)
                    await asyncio.to_thread(postgres.start)
                    return list(await asyncio.gather(*running)), list(during)

            started = time.monotonic()
            turns, during = asyncio.run(scenario())
            assert time.monotonic() - started < DONE_WITHIN_S + 5
            for turn in turns:
                assert turn.accepted and turn.ended, (turn.kind, cluster.log(0)[-2000:])
                assert turn.elapsed_s < DONE_WITHIN_S
            for turn in during:
                # Refused in JSON with a time to come back, or served whole: never a 500, never a hang.
                if turn.accepted:
                    assert turn.ended, turn.kind
                else:
                    assert (turn.status_code, turn.retry_after is not None) == (503, True), turn.kind

            # The failed final writes are retried; whatever is left, recovery closes.
            deadline = time.monotonic() + 45
            while (left := streaming_rows(env)) and time.monotonic() < deadline:
                time.sleep(0.5)
            assert left == 0

            # And the arena works as before.
            async def after() -> Turn:
                async with httpx.AsyncClient() as client:
                    return await stream_turn(client, cluster.urls[0], turn_body("after", tokens=3), token=tokens[0])

            assert asyncio.run(after()).kind is None
