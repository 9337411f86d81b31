"""A write refused because SQLite's disk is full says so to the client (a 503 naming the full
disk), not just "the database is unavailable": only freeing space helps, and the client (or the
admin reading its error) should hear it without searching the server's log."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.test_full_disk import fill, small_disk
from tests.support.doubles.ollama import OllamaDouble
from tests.support.server import make_settings, running_arena

LLAMA = "ollama:llama3.2:1b"


@pytest.mark.timeout(90)
def test_a_write_on_a_full_disk_is_a_503_that_says_the_disk_is_full(tmp_path: Path, double: OllamaDouble) -> None:
    with small_disk(tmp_path / "disk") as disk:
        settings = make_settings(disk / "data", ollama_hosts=[double.url], embedded_enabled=False)
        body = {"model_instances": [{"model": LLAMA}], "title": "x" * 200}
        with running_arena(settings) as arena, arena.client() as client:
            assert client.post("/api/conversations", json=body).status_code == 201
            filler = fill(disk)
            refused = [client.post("/api/conversations", json=body) for _ in range(20)]
            full = [r for r in refused if r.status_code != 201]
            assert full, "every write fitted on a full disk"
            assert all(r.status_code == 503 and "disk is full" in r.json()["error"] for r in full), full[0].text
            assert all("Retry-After" in r.headers for r in full)
            filler.unlink()
            assert client.post("/api/conversations", json=body).status_code == 201  # space again: writes again
