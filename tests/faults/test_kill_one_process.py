"""kill -9 one of three server processes under load: its answers end `stopped` with their partial
text once a process starts (recovery), and the other processes' streams — running through that
start-up — finish `ok`, whole."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from arena.storage.repository import INTERRUPTED_ERROR
from tests.support.cluster import Cluster, cluster_env, database_for, evaluator_tokens, prepare_database
from tests.support.doubles.ollama import OllamaDouble
from tests.support.evaluators import Turn, stored_problems, stored_rows, stream_turn, turn_body
from tests.support.faults import database_url

PER_PROCESS = 2


async def wait_for(condition: object, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


@pytest.mark.postgres
@pytest.mark.timeout(120)
def test_kill_9_one_of_three_stops_only_its_own_answers(tmp_path: Path, double: OllamaDouble, redis_url: str) -> None:
    double.reply = [f" w{n}" for n in range(300)]
    double.token_delay = 0.1  # slow until the restart below is done: the others stream through it
    with database_url("postgresql", tmp_path) as url:
        env = cluster_env(tmp_path / "data", ollama_url=double.url, database_url=url, redis_url=redis_url)
        prepare_database(env)
        tokens = evaluator_tokens(env, 3 * PER_PROCESS)
        with Cluster(size=3, directory=tmp_path / "cluster", env=env) as cluster:

            async def scenario() -> list[Turn]:
                async with httpx.AsyncClient() as client:
                    tasks = [
                        asyncio.create_task(
                            stream_turn(client, cluster.urls[n % 3], turn_body(f"story {n}"), token=tokens[n])
                        )
                        for n in range(3 * PER_PROCESS)
                    ]
                    await wait_for(lambda: double.streaming == len(tasks), timeout=30)
                    await asyncio.sleep(1.0)  # a partial flush (every 0.5 s) has reached the database
                    await asyncio.to_thread(cluster.kill, 0)
                    # Its start-up recovery runs while the other two processes still stream.
                    await asyncio.to_thread(cluster.start_process, 0)
                    assert double.streaming == 2 * PER_PROCESS, "the others streamed through the restart"
                    double.token_delay = 0.002  # now let them finish
                    return await asyncio.gather(*tasks)

            turns = asyncio.run(scenario())

        killed = [t for n, t in enumerate(turns) if n % 3 == 0]
        survived = [t for n, t in enumerate(turns) if n % 3 != 0]
        assert [t.kind for t in survived] == [None] * len(survived)
        assert all(t.kind is not None and t.kind.startswith("cut") for t in killed), [t.kind for t in killed]

        database = database_for(env)
        try:
            assert stored_problems(database, survived) == []
            for turn in killed:
                [row] = stored_rows(database, turn).values()
                assert (row.status, row.error) == ("stopped", INTERRUPTED_ERROR)
                assert row.text.strip(), "the partial text survived"
            assert stored_problems(database, killed) == []  # closed, and what the client read
        finally:
            database.dispose()
