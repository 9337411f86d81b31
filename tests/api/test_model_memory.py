"""The memory budget over HTTP: the model list says what is loaded and what each holds, and a
comparison of two models that do not fit together ends with a clear error for one, never a hang."""

from __future__ import annotations

from pathlib import Path

import pytest

from arena.engines.catalog import smollm2_gguf_path
from tests.support.fixtures import ArenaFactory
from tests.support.models import smollm2_batched_bytes
from tests.support.server import ndjson_lines

pytestmark = pytest.mark.timeout(120)
N_CTX = 512


def test_the_model_list_shows_what_is_loaded_and_a_model_that_cannot_fit_says_so(
    arena_factory: ArenaFactory, tmp_path: Path
) -> None:
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    for name in ("a", "b"):
        (models_dir / f"{name}.gguf").symlink_to(smollm2_gguf_path())
    one = smollm2_batched_bytes(n_ctx=N_CTX)  # the batched path, the default
    arena = arena_factory(
        models_dir=models_dir,
        embedded_slots=1,
        embedded_threads=1,
        embedded_n_ctx=N_CTX,
        embedded_max_memory=one * 3 // 2,  # one of them, not both
    )

    def listed() -> dict[str, dict]:
        details = client.get("/api/models", params={"refresh": "true"}).json()["details"]
        return {d["id"]: d for d in details if d["id"] in ("local:a", "local:b")}

    with arena.client() as client:
        before = listed()
        assert {i: (d["loaded"], d["resident_bytes"], d["size"]) for i, d in before.items()} == {
            "local:a": (False, one, smollm2_gguf_path().stat().st_size),
            "local:b": (False, one, smollm2_gguf_path().stat().st_size),
        }

        body = {"message": "Hi", "model_instances": [{"model": "local:a", "num_predict": 2}, {"model": "local:b"}]}
        with client.stream("POST", "/api/stream_chat?format=arena", json=body) as response:
            assert response.status_code == 200
            lines = list(ndjson_lines(response))

        done = {line["model"]: line for line in lines[1:] if line["done"]}
        assert set(done) == {"local:a", "local:b"}  # a done line for each, the refused one too
        assert sorted(line.get("status", "ok") for line in done.values()) == ["error", "ok"]
        [refused] = [line for line in done.values() if line.get("status") == "error"]
        assert "ARENA_EMBEDDED_MAX_MEMORY" in refused["error"] and "try again" in refused["error"]
        [answered] = [model for model, line in done.items() if line is not refused]

        assert {i: d["loaded"] for i, d in listed().items()} == {
            "local:a": answered == "local:a",
            "local:b": answered == "local:b",
        }
