"""A full disk under SQLite (a small tmpfs mounted for the test; we run as root): the streams
running when it fills end with a done line per instance carrying an error, the server stays up,
and once space is freed it works again — new turns stored whole, the cut ones closed."""

from __future__ import annotations

import asyncio
import errno
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from arena.storage.models import Response
from tests.support.cluster import Cluster, cluster_env, database_for, evaluator_tokens, prepare_database
from tests.support.doubles.ollama import OllamaDouble
from tests.support.evaluators import Turn, stored_problems, stream_turn, turn_body

DISK_SIZE = "16m"
STREAMS = 4


@contextmanager
def small_disk(path: Path) -> Iterator[Path]:
    path.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs for the full-disk test (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path: Path) -> Path:
    """Write until the disk is full; returns the file to delete to free it again."""
    filler = path / "filler"
    chunk = b"\0" * (64 * 1024)
    with filler.open("wb", buffering=0) as file:
        try:
            while True:
                file.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        try:  # the last few bytes, so not even a page fits
            while True:
                file.write(b"\0" * 512)
        except OSError:
            pass
    return filler


def count(env: dict[str, str], status: str) -> int:
    database = database_for(env)
    try:
        with database.session() as session:
            return int(session.scalar(select(func.count()).where(Response.status == status)) or 0)
    finally:
        database.dispose()


@pytest.mark.timeout(120)
def test_full_disk_under_sqlite(tmp_path: Path, double: OllamaDouble) -> None:
    double.reply = [f" w{n}" for n in range(30)]
    double.token_delay = 0.1
    with small_disk(tmp_path / "disk") as disk:
        env = cluster_env(disk / "data", ollama_url=double.url)
        prepare_database(env)
        tokens = evaluator_tokens(env, STREAMS)
        with Cluster(size=1, directory=tmp_path / "cluster", env=env) as cluster:
            url = cluster.urls[0]

            async def turns(message: str, n: int) -> list[Turn]:
                async with httpx.AsyncClient() as client:
                    return list(
                        await asyncio.gather(
                            *(stream_turn(client, url, turn_body(message), token=tokens[k]) for k in range(n))
                        )
                    )

            async def while_filling() -> list[Turn]:
                async with httpx.AsyncClient() as client:
                    running = [
                        asyncio.create_task(stream_turn(client, url, turn_body(f"s{k}"), token=tokens[k]))
                        for k in range(STREAMS)
                    ]
                    await asyncio.sleep(1.0)
                    await asyncio.to_thread(fill, disk)
                    return list(await asyncio.gather(*running))

            cut = asyncio.run(while_filling())
            for turn in cut:
                assert turn.accepted and turn.ended, turn.kind
                [done] = turn.done.values()
                assert done["status"] == "error" and done["error"], done
            assert httpx.get(f"{url}/api/health/live", timeout=5).status_code == 200, "the server stays up"

            (disk / "filler").unlink()
            back = asyncio.run(turns("back", 2))
            assert [t.kind for t in back] == [None, None]
            database = database_for(env)
            try:
                assert stored_problems(database, back) == []
            finally:
                database.dispose()
            deadline = time.monotonic() + 40  # the failed final writes are retried
            while count(env, "streaming") and time.monotonic() < deadline:
                time.sleep(0.5)
            assert count(env, "streaming") == 0
