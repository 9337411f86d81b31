"""Health that tells the truth: liveness (the process answers), readiness (the database answers,
checked within a second), and v3's /api/health saying "unhealthy" with 503 while the database
is down; all of them fast while streams run."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from arena.storage.db import Database
from arena.web.readiness import DatabaseProbe
from tests.support.db_fixtures import DATABASE_PARAMS
from tests.support.doubles.ollama import OllamaDouble
from tests.support.faults import database_url, serve_arena, settings_for


@pytest.fixture(params=DATABASE_PARAMS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    with database_url(request.param, tmp_path) as found:
        yield found


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word: a database that hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def timed(client: httpx.Client, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer = client.get(path)
    return answer, time.monotonic() - started


@pytest.mark.timeout(60)
def test_health_follows_the_database(url: str | None, tmp_path: Path, double: OllamaDouble, silent_port: int) -> None:
    with serve_arena(settings_for(tmp_path / "data", url, double.url)) as arena, arena.client() as client:
        assert client.get("/api/health/live").json() == {"status": "alive"}
        assert client.get("/api/health/ready").json() == {"status": "ready", "database": "ok"}
        health = client.get("/api/health")
        assert health.status_code == 200
        assert health.json() | {"engines": None} == {
            "status": "healthy",
            "service": "local-llm-arena",
            "models_available": 2,
            "database": "ok",
            "engines": None,
        }

        for down in (
            f"postgresql+psycopg://arena:arena@127.0.0.1:{silent_port}/gone",
            "postgresql+psycopg://a:b@127.0.0.1:9/x",
        ):
            arena.app.state.database_probe = DatabaseProbe(Database(url=down))
            ready, ready_s = timed(client, "/api/health/ready")
            health, health_s = timed(client, "/api/health")
            assert (ready.status_code, ready.json()) == (503, {"status": "not ready", "database": "unavailable"})
            assert health.status_code == 503
            assert health.json()["status"] == "unhealthy" and health.json()["database"] == "unavailable"
            assert max(ready_s, health_s) < 2.0, "answered within the check's timeout, not the database's"
            assert client.get("/api/health/live").status_code == 200


@pytest.mark.timeout(90)
def test_health_answers_fast_while_streams_run(tmp_path: Path, double: OllamaDouble) -> None:
    double.reply = [f" t{i}" for i in range(150)]
    double.token_delay = 0.02
    two = [{"model": "ollama:llama3.2:1b"}, {"model": "ollama:qwen2.5:0.5b"}]
    settings = settings_for(tmp_path / "data", None, double.url, max_generations_setting=16, max_streams_per_user=16)
    with serve_arena(settings) as arena:

        async def load_and_probe() -> list[float]:
            async with httpx.AsyncClient(base_url=arena.url, timeout=30) as client:

                async def converse() -> None:
                    answer = await client.post("/api/chat", json={"message": "Count.", "model_instances": two})
                    assert answer.status_code == 200

                streams = [asyncio.create_task(converse()) for _ in range(4)]
                await asyncio.sleep(0.5)
                latencies = []
                for path in ["/api/health", "/api/health/ready", "/api/health/live"] * 4:
                    started = time.monotonic()
                    assert (await client.get(path)).status_code == 200
                    latencies.append(time.monotonic() - started)
                    await asyncio.sleep(0.1)
                await asyncio.gather(*streams)
                return latencies

        latencies = asyncio.run(load_and_probe())
    assert max(latencies) < 1.0, latencies
