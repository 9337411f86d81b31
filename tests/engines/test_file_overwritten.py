"""A model file overwritten in place (`cp` over it, a download written straight into the models
folder) while the model answers: the server lives on, every answer ends with its done line, and
the next request loads what the file now holds. Mapped weights would be pulled from under
llama.cpp and the process would die of SIGBUS (engines/llama_pool.load_llama). A real `arena
serve` process, so a crash shows as a dead process, not a dead test run."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from arena.engines.catalog import smollm2_gguf_path
from tests.support.process import arena_process
from tests.support.server import ndjson_lines

pytestmark = pytest.mark.timeout(180)


def test_a_model_file_overwritten_in_place_mid_answer_does_not_kill_the_server(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    target = models / "twin.gguf"
    shutil.copy(smollm2_gguf_path(), target)
    body = {
        "message": "Tell a long story about a lighthouse.",
        "model_instances": [{"model": "local:twin", "num_predict": 200, "seed": 1, "temperature": 0.7}],
    }
    env = {"ARENA_MODELS_DIR": str(models), "ARENA_EMBEDDED_THREADS": "1"}
    with arena_process(tmp_path / "data", env=env) as (process, url), httpx.Client(base_url=url, timeout=60) as client:
        with client.stream("POST", "/api/stream_chat", json=body) as response:
            events = []
            for event in ndjson_lines(response):
                events.append(event)
                if sum(1 for e in events if e.get("token")) == 5:
                    # In place: same inode, the first 30 MB of the weights, then nothing.
                    with smollm2_gguf_path().open("rb") as source, target.open("r+b") as out:
                        out.write(source.read(30_000_000))
                        out.truncate()
        done = [e for e in events if e.get("done")]
        assert len(done) == 1 and done[0]["status"] == "ok", done
        assert process.poll() is None, "the server died"
        assert client.get("/api/health").status_code == 200

        # The next request reads the file as it is now: a clear error for its instance, not a crash.
        with client.stream("POST", "/api/stream_chat", json=body) as response:
            events = list(ndjson_lines(response))
        [end] = [e for e in events if e.get("done")]
        assert end["status"] == "error" and end.get("error"), end
        assert process.poll() is None
