"""The model manager's Pull with a Hugging Face repo: admin-only, audited, progress lines, then a
model that generates; and its delete. Against the hub double serving the bundled SmolLM2 GGUF."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from arena.engines.catalog import smollm2_gguf_path
from tests.support.accounts import login, users_arena
from tests.support.doubles.hf_hub import HfHubDouble, hf_hub_double
from tests.support.server import RunningArena, ndjson_lines

pytestmark = pytest.mark.timeout(120)

REPO = "arena-test/SmolLM2-135M-Instruct-GGUF"
PULLED = "local:smollm2-135m-instruct.q4_1"


@pytest.fixture
def hub() -> Iterator[HfHubDouble]:
    with hf_hub_double() as double:
        double.add_repo(REPO, {"SmolLM2-135M-Instruct.Q4_1.gguf": smollm2_gguf_path()})
        yield double


@pytest.fixture
def arena(tmp_path: Path, hub: HfHubDouble) -> Iterator[RunningArena]:
    with users_arena(tmp_path / "data", hf_endpoint=hub.url, models_dir=tmp_path / "models") as running:
        yield running


def test_an_admin_pulls_a_gguf_that_then_generates_and_deletes_it(arena: RunningArena, hub: HfHubDouble) -> None:
    with login(arena, "eve") as evaluator:
        refused = evaluator.request("POST", "/api/models/pull", json={"model": f"hf:{REPO}"})
        assert refused.status_code == 403
    assert hub.requests == [], "a refused caller reaches no hub"

    with login(arena, "ada") as admin:
        headers = {"X-CSRF-Token": admin.csrf_token}
        with admin.client.stream("POST", "/api/models/pull", json={"model": f"hf:{REPO}"}, headers=headers) as response:
            assert response.status_code == 200
            progress = list(ndjson_lines(response))
        assert progress[0]["status"] == f"pulling SmolLM2-135M-Instruct.Q4_1.gguf from {REPO}"
        sized = [p for p in progress if p.get("total")]
        assert len(sized) > 3 and sized[-1]["completed"] == sized[-1]["total"] == smollm2_gguf_path().stat().st_size
        assert progress[-1]["status"] == f"success: ready as {PULLED}"

        listed = {m["id"]: m for m in admin.client.get("/api/models", params={"refresh": True}).json()["details"]}
        assert (listed[PULLED]["engine"], listed[PULLED]["quantization"], listed[PULLED]["base_model"]) == ("local", "Q4_1", False)

        body = {"message": "Say hello.", "model_instances": [{"model": PULLED, "num_predict": 4, "seed": 1}]}
        with admin.client.stream("POST", "/api/stream_chat", json=body, headers=headers) as response:
            lines = list(ndjson_lines(response))
        assert lines[-1]["done"] and lines[-1].get("status", "ok") == "ok", lines[-1]
        assert "".join(e.get("token", "") for e in lines if e.get("done") is False).strip()

        missing = admin.request("POST", "/api/models/pull", json={"model": "hf:arena-test/no-such-repo"})
        assert missing.status_code == 404 and "not a model repo" in missing.json()["error"]
        # v3's route runs the same checks before it answers, in v3's error shape.
        v3 = admin.request("POST", "/api/pull_model", json={"model": "hf:arena-test/no-such-repo"})
        assert v3.status_code == 404 and set(v3.json()) >= {"error"} and "not a model repo" in v3.json()["error"]
        taken = admin.request("POST", "/api/pull_model", json={"model": f"hf:{REPO}:Q2_K"})
        assert taken.status_code == 404 and "has no Q2_K GGUF" in taken.json()["error"]

        deleted = admin.request("DELETE", f"/api/models/{PULLED}")
        assert deleted.status_code == 200, deleted.text
        assert PULLED not in {m["id"] for m in admin.client.get("/api/models", params={"refresh": True}).json()["details"]}

        entries = admin.client.get("/api/audit", params={"action": "model"}).json()["entries"]
    outcomes = [(e["action"], e["target"], e["detail"]["outcome"]) for e in reversed(entries)]
    assert outcomes == [
        ("model.pull", f"hf:{REPO}", "succeeded"),
        ("model.pull", "hf:arena-test/no-such-repo", "refused"),
        ("model.pull", "hf:arena-test/no-such-repo", "refused"),
        ("model.pull", f"hf:{REPO}:Q2_K", "refused"),
        ("model.delete", PULLED, "succeeded"),
    ]
    assert {e["detail"].get("endpoint") for e in entries if e["action"] == "model.pull"} == {hub.url}
    assert all("not a model repo" in e["detail"]["error"] for e in entries if e["target"] == "hf:arena-test/no-such-repo")
