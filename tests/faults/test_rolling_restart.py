"""A rolling restart of all three processes behind nginx while 8 evaluators keep streaming: every
stream that was accepted ends with a done line per instance (none hangs), and is stored whole."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.support.cluster import Cluster, cluster_env, database_for, evaluator_tokens, prepare_database
from tests.support.doubles.ollama import OllamaDouble
from tests.support.evaluators import Turn, stored_problems, stream_turn, turn_body
from tests.support.faults import database_url

EVALUATORS = 8


@pytest.mark.postgres
@pytest.mark.timeout(150)
def test_rolling_restart_under_eight_streams(tmp_path: Path, double: OllamaDouble, redis_url: str) -> None:
    double.reply = [f" w{n}" for n in range(30)]
    double.token_delay = 0.1  # 3 s answers: each restart has streams running through it
    with database_url("postgresql", tmp_path) as url:
        env = cluster_env(tmp_path / "data", ollama_url=double.url, database_url=url, redis_url=redis_url)
        prepare_database(env)
        tokens = evaluator_tokens(env, EVALUATORS)
        with Cluster(size=3, directory=tmp_path / "cluster", env=env, nginx=True) as cluster:
            front = cluster.front_url
            assert front is not None

            async def scenario() -> list[Turn]:
                turns: list[Turn] = []
                restarted = asyncio.Event()

                async def evaluator(n: int, client: httpx.AsyncClient) -> None:
                    while not restarted.is_set():
                        turns.append(await stream_turn(client, front, turn_body(f"turn of {n}"), token=tokens[n]))

                async with httpx.AsyncClient(verify=cluster.verify) as client:
                    running = [asyncio.create_task(evaluator(n, client)) for n in range(EVALUATORS)]
                    await asyncio.sleep(1.0)
                    await asyncio.to_thread(cluster.rolling_restart)
                    restarted.set()
                    await asyncio.wait_for(asyncio.gather(*running), timeout=30)
                return turns

            turns = asyncio.run(scenario())
            logs = "\n".join(cluster.log(n) for n in range(3))

        accepted = [t for t in turns if t.accepted]
        kinds = Counter(t.kind for t in turns)
        assert len(accepted) >= 2 * EVALUATORS, kinds
        assert all(t.ended for t in accepted), kinds
        # Drained and stopped gracefully, a process lets its running answers finish, and nginx
        # places every new request on a live process: not one 502. Only a request sent on an idle
        # connection the reloading nginx closed at that moment gets no response at all (a
        # browser sends it again), at most one a reload.
        unanswered = [t for t in turns if t.unanswered]
        assert len(unanswered) <= 6, kinds
        assert kinds[None] == len(turns) - len(unanswered), f"{kinds}\n{logs[-3000:]}"
        database = database_for(env)
        try:
            assert stored_problems(database, accepted) == []
        finally:
            database.dispose()
