"""A server killed mid-stream (SIGKILL) leaves the partial answer, marked as stopped."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import httpx

from tests.support.models import SMOL
from tests.support.process import arena_process
from tests.support.server import ndjson_lines


def stored_partial_text(data_dir: Path) -> str:
    with sqlite3.connect(data_dir / "arena.db") as db:
        row = db.execute("SELECT text FROM responses WHERE status = 'streaming'").fetchone()
    return row[0] if row else ""


def test_sigkill_mid_stream_keeps_the_partial_answer(tmp_path: Path) -> None:
    data_dir = tmp_path / "killed"
    body = {"message": "Tell a long story about a fox.", "model_instances": [{"model": SMOL, "num_predict": 3000}]}
    received = ""
    with arena_process(data_dir) as (process, url):
        with httpx.Client(base_url=url, timeout=60) as client, client.stream("POST", "/api/stream_chat", json=body) as response:
            lines = ndjson_lines(response)
            conversation_id = next(lines)["conversation_id"]
            for event in lines:
                received += event.get("token", "")
                # Kill once a partial flush (every 0.5 s) has reached the database file.
                if received.strip() and stored_partial_text(data_dir):
                    os.kill(process.pid, signal.SIGKILL)
                    break
        process.wait(timeout=30)

    with arena_process(data_dir) as (_process, url):
        stored = httpx.get(f"{url}/api/conversations/{conversation_id}", timeout=30).json()
    [turn] = stored["turns"]
    [answer] = turn["responses"]
    assert answer["status"] == "stopped"
    assert answer["error"] == "the server stopped before the answer finished"
    assert answer["text"].strip(), "the partial text survived"
    # The flush may hold a few tokens more or fewer than the client had read when the kill came.
    shorter, longer = sorted((received, answer["text"]), key=len)
    assert longer.startswith(shorter)
