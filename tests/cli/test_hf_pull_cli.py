"""`arena pull hf:…`, `arena models` and `arena rm` with a GGUF from the Hugging Face hub double."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from arena.cli import app
from tests.engines.test_base_models import gguf_header
from tests.support.doubles.hf_hub import hf_hub_double

pytestmark = pytest.mark.timeout(60)
runner = CliRunner()
REPO = "arena-test/tiny-GGUF"
TINY = gguf_header({"general.architecture": "llama", "general.name": "tiny"}) + b"\x01" * 300_000


def test_pull_lists_and_rm_a_gguf_from_the_hub(tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    with hf_hub_double() as hub:
        hub.add_repo(REPO, {"tiny-Q4_K_M.gguf": TINY, "tiny-Q8_0.gguf": TINY + b"8"})
        env = {"HF_ENDPOINT": hub.url, "ARENA_MODELS_DIR": str(models_dir), "COLUMNS": "200"}

        pulled = runner.invoke(app, ["pull", f"hf:{REPO}"], env=env)
        assert pulled.exit_code == 0, pulled.output
        assert f"pulled hf:{REPO} (success: ready as local:tiny-q4_k_m)" in " ".join(pulled.output.split())
        listed = runner.invoke(app, ["models"], env=env)
        row = next(line for line in listed.output.splitlines() if "local:tiny-q4_k_m" in line)
        assert "local · base" in row and "Q4_K_M" in row, "a GGUF without a chat template is marked a base model"

        wrong = runner.invoke(app, ["pull", f"hf:{REPO}:Q2_K"], env=env)
        assert wrong.exit_code != 0 and "has no Q2_K GGUF; it has: Q4_K_M, Q8_0" in " ".join(wrong.output.split())

        removed = runner.invoke(app, ["rm", f"hf:{REPO}"], env=env)
        assert removed.exit_code == 0, removed.output
        assert sorted(p.name for p in models_dir.iterdir()) == []
        again = runner.invoke(app, ["rm", "local:tiny-q4_k_m"], env=env)
        assert again.exit_code != 0 and "cannot be deleted" in " ".join(again.output.split())
        exported = runner.invoke(app, ["audit", "export", "-o", str(tmp_path / "audit.jsonl")], env=env)
        assert exported.exit_code == 0, exported.output
    entries = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    models = [(e["action"], e["target"], e["detail"]["outcome"], e["detail"]["via"]) for e in entries if e["action"].startswith("model.")]
    assert models == [
        ("model.pull", f"hf:{REPO}", "succeeded", "cli"),
        ("model.pull", f"hf:{REPO}:Q2_K", "refused", "cli"),
        ("model.delete", f"hf:{REPO}", "succeeded", "cli"),
        ("model.delete", "local:tiny-q4_k_m", "failed", "cli"),
    ]
    assert "has no Q2_K GGUF" in entries[1]["detail"]["error"]
