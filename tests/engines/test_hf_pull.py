"""`hf:` pulls against the Hugging Face hub double: the file chosen, resumed, checked, refused, deleted.

The transfers are small made-up GGUFs except where a resume needs more than one of
huggingface_hub's 10 MB read chunks: then the bundled SmolLM2 GGUF (98 MB over loopback).
"""

from __future__ import annotations

import hashlib
import random
import re
import shutil
from collections import namedtuple
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from filelock import FileLock

from arena.engines.base import PullProgress
from arena.engines.catalog import smollm2_gguf_path
from arena.engines.egress import EgressPolicy, EgressRefused
from arena.engines.embedded import EmbeddedEngine
from arena.engines.hf_pull import HuggingFaceHub
from arena.engines.pulled_models import delete_local, read_record
from arena.errors import (
    Conflict,
    EngineProtocolError,
    EngineRejected,
    EngineUnavailable,
    InvalidInput,
    ModelNotAvailable,
    TooLarge,
)
from tests.engines.test_base_models import gguf_header
from tests.support.doubles.hf_hub import HfHubDouble, hf_hub_double

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

TINY = "arena-test/tiny-GGUF"
SMOL_REPO = "arena-test/SmolLM2-135M-Instruct-GGUF"
SMOL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BROKEN = "arena-test/broken-GGUF"
# A base model's header (no chat template), padded: enough for the catalog, not for llama.cpp.
TINY_Q4 = gguf_header({"general.architecture": "llama", "general.name": "tiny"}) + bytes(range(256)) * 4000
TINY_Q8 = gguf_header({"general.name": "tiny8", "tokenizer.chat_template": "{{ m }}"}) + b"\x08" * 50_000


@pytest.fixture(scope="module")
def hub() -> Iterator[HfHubDouble]:
    with hf_hub_double() as double:
        double.add_repo(
            TINY,
            {
                "tiny-Q4_K_M.gguf": TINY_Q4,
                "tiny-Q8_0.gguf": TINY_Q8,
                "mmproj-tiny-f16.gguf": b"projector",
                "big/tiny-00001-of-00002.gguf": b"split",
                "README.md": "# tiny",
            },
        )
        double.add_repo(SMOL_REPO, {SMOL_FILE: smollm2_gguf_path(), "README.md": "# SmolLM2"})
        smol = smollm2_gguf_path().read_bytes()
        double.add_repo(
            BROKEN,
            {"noise-Q4_K_M.gguf": random.Random(1).randbytes(2_000_000), "cut-Q8_0.gguf": smol[: len(smol) // 3]},
        )
        double.add_repo("arena-test/evil-GGUF", {"../../evil.gguf": b"evil"})
        double.add_repo("arena-test/safetensors-only", {"model.safetensors": b"\0" * 64, "config.json": "{}"})
        yield double


@pytest.fixture
def fresh(hub: HfHubDouble) -> HfHubDouble:
    hub.cut_after, hub.corrupt = None, False
    hub.requests.clear()
    return hub


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    return tmp_path / "models"


def make_hub(double: HfHubDouble, models_dir: Path) -> HuggingFaceHub:
    return HuggingFaceHub(endpoint=double.url, models_dir=models_dir)


async def pull(hub: HuggingFaceHub, name: str) -> list[PullProgress]:
    return [progress async for progress in hub.pull(name)]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(models_dir: Path) -> list[str]:
    return sorted(p.name for p in models_dir.iterdir()) if models_dir.exists() else []


async def test_the_default_is_q4_k_m_and_the_pulled_file_is_an_embedded_model(
    fresh: HfHubDouble, models_dir: Path
) -> None:
    progress = await pull(make_hub(fresh, models_dir), TINY)

    assert progress[0].status == f"pulling tiny-Q4_K_M.gguf from {TINY}"
    assert progress[-1].status == "success: ready as local:tiny-q4_k_m"
    assert progress[-1].completed == progress[-1].total == len(TINY_Q4)
    target = models_dir / "tiny-Q4_K_M.gguf"
    assert target.read_bytes() == TINY_Q4
    assert leftovers(models_dir) == ["tiny-Q4_K_M.gguf", "tiny-Q4_K_M.gguf.hf.json"], "no .part, no lock left"
    record = read_record(target)
    assert record is not None and (record.repo, record.quantization) == (TINY, "Q4_K_M")
    assert record.sha256 == hashlib.sha256(TINY_Q4).hexdigest()

    engine = EmbeddedEngine(data_dir=models_dir.parent / "data", models_dir=models_dir, slots=1)
    try:
        listed = {m.id: m for m in await engine.list_models()}
    finally:
        await engine.aclose()
    tiny = listed["local:tiny-q4_k_m"]
    assert (tiny.quantization, tiny.base_model, tiny.size) == ("Q4_K_M", True, len(TINY_Q4))

    again = await pull(make_hub(fresh, models_dir), f"{TINY}:Q4_K_M")
    assert again[-1].status == "already pulled: local:tiny-q4_k_m"
    assert len(fresh.file_requests()) == 1, "a pulled file is not fetched again"


@pytest.mark.parametrize("selector", ["Q8_0", "q8_0", "tiny-Q8_0.gguf"])
async def test_a_quant_or_a_file_picks_that_file(fresh: HfHubDouble, models_dir: Path, selector: str) -> None:
    await pull(make_hub(fresh, models_dir), f"{TINY}:{selector}")
    assert (models_dir / "tiny-Q8_0.gguf").read_bytes() == TINY_Q8
    assert not (models_dir / "tiny-Q4_K_M.gguf").exists()


@pytest.mark.parametrize(
    ("name", "error", "words"),
    [
        ("arena-test/no-such-repo", ModelNotAvailable, "not a model repo on"),
        ("arena-test/safetensors-only", ModelNotAvailable, "no .gguf file"),
        (f"{TINY}:Q2_K", ModelNotAvailable, "has no Q2_K GGUF; it has: Q4_K_M, Q8_0"),
        (f"{TINY}:other.gguf", ModelNotAvailable, "has no file 'other.gguf'"),
        (f"{TINY}:mmproj-tiny-f16.gguf", ModelNotAvailable, "is a vision projector (mmproj): the arena runs text models only"),
        (f"{TINY}:tiny-00001-of-00002.gguf", ModelNotAvailable, "one part of a split GGUF"),
        ("arena-test/evil-GGUF", InvalidInput, "names its file '../../evil.gguf', an unsafe path: not pulled"),
        ("not-a-repo", InvalidInput, "hf:<org>/<repo>"),
        ("../../etc/passwd", InvalidInput, "is not a Hugging Face repo"),
        (f"{TINY}:../x.gguf", InvalidInput, "not a file name"),
    ],
)
async def test_a_wrong_name_says_what_is_there_and_writes_nothing(
    fresh: HfHubDouble, models_dir: Path, name: str, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=re.escape(words)):
        await pull(make_hub(fresh, models_dir), name)
    assert leftovers(models_dir) == []
    assert fresh.file_requests() == []


async def test_a_cut_connection_resumes_where_it_stopped(fresh: HfHubDouble, models_dir: Path) -> None:
    fresh.cut_after = 25 * 1024 * 1024  # mid-file, past two of huggingface_hub's 10 MB reads
    progress = await pull(make_hub(fresh, models_dir), SMOL_REPO)

    ranges = [wanted for _, _, wanted in fresh.file_requests()]
    assert ranges == [None, f"bytes={20 * 1024 * 1024}-"], "the second request asks only for the rest"
    target = models_dir / SMOL_FILE
    assert sha256(target) == sha256(smollm2_gguf_path())
    sizes = [p.completed for p in progress if p.status.startswith("pulling")]
    assert sizes[-1] == target.stat().st_size and len(sizes) > 5, "progress along the way, not one jump"


async def test_an_interrupted_pull_resumes_from_its_part_file(fresh: HfHubDouble, models_dir: Path) -> None:
    models_dir.mkdir()
    half = len(TINY_Q4) // 2
    (models_dir / "tiny-Q4_K_M.gguf.part").write_bytes(TINY_Q4[:half])  # what a killed pull left

    progress = await pull(make_hub(fresh, models_dir), TINY)

    assert [wanted for _, _, wanted in fresh.file_requests()] == [f"bytes={half}-"]
    assert progress[0].completed == half, "the bar starts where the part ends"
    assert (models_dir / "tiny-Q4_K_M.gguf").read_bytes() == TINY_Q4
    assert leftovers(models_dir) == ["tiny-Q4_K_M.gguf", "tiny-Q4_K_M.gguf.hf.json"]


async def test_a_pull_given_up_midway_keeps_its_part_for_the_next(fresh: HfHubDouble, models_dir: Path) -> None:
    fresh.chunk_delay = 0.02  # about two seconds for the whole file: time to walk away
    try:
        progress = make_hub(fresh, models_dir).pull(SMOL_REPO)
        async for update in progress:
            if (update.completed or 0) > 0:
                break
        await progress.aclose()  # what a closed tab or Ctrl-C does
        part = models_dir / f"{SMOL_FILE}.part"
        for _ in range(500):  # the worker thread stops at its next write and lets go of the file
            if not (models_dir / f"{SMOL_FILE}.lock").exists():
                break
            await anyio.sleep(0.01)
        kept = part.stat().st_size
        assert 0 < kept < smollm2_gguf_path().stat().st_size and not (models_dir / SMOL_FILE).exists()
    finally:
        fresh.chunk_delay = 0.0

    await pull(make_hub(fresh, models_dir), SMOL_REPO)
    assert fresh.file_requests()[-1][2] == f"bytes={kept}-"
    assert sha256(models_dir / SMOL_FILE) == sha256(smollm2_gguf_path())


async def test_a_corrupted_download_is_refused_by_its_checksum(fresh: HfHubDouble, models_dir: Path) -> None:
    fresh.corrupt = True
    with pytest.raises(EngineProtocolError, match="does not match the hub's sha256.*discarded"):
        await pull(make_hub(fresh, models_dir), TINY)
    assert leftovers(models_dir) == [], "neither the model nor a part to resume from"

    models_dir.mkdir(exist_ok=True)
    (models_dir / "tiny-Q4_K_M.gguf.part").write_bytes(b"\xff" * 1000)  # a part of some other file
    fresh.corrupt = False
    with pytest.raises(EngineProtocolError, match="sha256"):
        await pull(make_hub(fresh, models_dir), TINY)
    assert leftovers(models_dir) == []
    await pull(make_hub(fresh, models_dir), TINY)  # the next pull starts afresh and succeeds
    assert (models_dir / "tiny-Q4_K_M.gguf").read_bytes() == TINY_Q4


@pytest.mark.parametrize(
    ("selector", "words"),
    [("Q4_K_M", "noise-Q4_K_M.gguf is not a model .*: it is not a GGUF file"), ("Q8_0", "cut-Q8_0.gguf .* cut short")],
)
async def test_a_file_the_engine_cannot_load_is_refused_after_its_checksum(
    fresh: HfHubDouble, models_dir: Path, selector: str, words: str
) -> None:
    with pytest.raises(EngineRejected, match=words + ".*not pulled"):
        await pull(make_hub(fresh, models_dir), f"{BROKEN}:{selector}")
    assert leftovers(models_dir) == [], "nothing listed, no part kept"


async def test_a_second_pull_of_a_file_is_refused_before_any_progress(fresh: HfHubDouble, models_dir: Path) -> None:
    models_dir.mkdir()
    with FileLock(str(models_dir / "tiny-Q4_K_M.gguf.lock"), timeout=0):  # a pull under way (here or the CLI)
        progress = make_hub(fresh, models_dir).pull(TINY)
        with pytest.raises(Conflict, match="being pulled already"):
            await anext(progress)
    assert fresh.file_requests() == []
    await pull(make_hub(fresh, models_dir), TINY)  # once it has ended, the file can be pulled


def test_deleting_a_model_while_it_is_pulled_says_so(models_dir: Path) -> None:
    models_dir.mkdir()
    (models_dir / "tiny-Q4_K_M.gguf.part").write_bytes(b"GGUF")
    with FileLock(str(models_dir / "tiny-Q4_K_M.gguf.lock"), timeout=0):  # its pull runs
        with pytest.raises(Conflict, match="local:tiny-q4_k_m is being pulled right now"):
            delete_local(models_dir, "tiny-q4_k_m")
    with pytest.raises(Conflict, match="only partly pulled .*interrupted.*pull it again to resume"):
        delete_local(models_dir, "tiny-q4_k_m")
    assert leftovers(models_dir) == ["tiny-Q4_K_M.gguf.part"], "the part stays for the next pull"


async def test_no_network_is_a_clear_error(models_dir: Path) -> None:
    closed = HuggingFaceHub(endpoint="http://127.0.0.1:9", models_dir=models_dir)
    with pytest.raises(EngineUnavailable, match="is not reachable"):
        await pull(closed, TINY)
    assert leftovers(models_dir) == []


async def test_the_hub_is_reached_only_through_the_egress_policy(fresh: HfHubDouble, models_dir: Path) -> None:
    elsewhere = EgressPolicy.of_urls(["http://127.0.0.1:11434"])  # the hub is not among the settings' endpoints
    hub = HuggingFaceHub(endpoint=fresh.url, models_dir=models_dir, egress=elsewhere)
    with pytest.raises(EgressRefused):
        await pull(hub, TINY)
    assert fresh.requests == [], "refused before any connection"


async def test_a_download_follows_the_hubs_redirect_only_to_a_configured_cdn(
    fresh: HfHubDouble, models_dir: Path
) -> None:
    with hf_hub_double() as cdn:
        cdn.add_repo(TINY, {"tiny-Q4_K_M.gguf": TINY_Q4})
        fresh.redirect_to = cdn.url
        try:
            unlisted = HuggingFaceHub(endpoint=fresh.url, models_dir=models_dir)  # the CDN is not in its policy
            with pytest.raises(EgressRefused):
                await pull(unlisted, TINY)
            assert cdn.requests == [] and leftovers(models_dir) == [], "refused before connecting; nothing written"

            listed = HuggingFaceHub(endpoint=fresh.url, models_dir=models_dir, download_origins=[cdn.url])
            await pull(listed, TINY)
        finally:
            fresh.redirect_to = None
    assert (models_dir / "tiny-Q4_K_M.gguf").read_bytes() == TINY_Q4
    asked = [path for _, path, _ in fresh.file_requests()]
    assert len(asked) == 2 and [path for _, path, _ in cdn.file_requests()] == asked[-1:], "the bytes came from the CDN"


DiskUsage = namedtuple("DiskUsage", "total used free")


async def test_a_file_too_big_for_the_disk_is_refused_before_downloading(
    fresh: HfHubDouble, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda _path: DiskUsage(10**9, 10**9 - 10**6, 10**6))
    with pytest.raises(TooLarge, match="needs 98 MB more on the disk of .*, which has 1 MB free"):
        await pull(make_hub(fresh, models_dir), SMOL_REPO)
    assert fresh.file_requests() == [] and not list(models_dir.glob("*.gguf*"))


async def test_a_file_of_that_name_from_elsewhere_is_not_overwritten(fresh: HfHubDouble, models_dir: Path) -> None:
    models_dir.mkdir()
    (models_dir / "tiny-Q4_K_M.gguf").write_bytes(b"mine")
    with pytest.raises(Conflict, match="put there by hand"):
        await pull(make_hub(fresh, models_dir), TINY)
    assert (models_dir / "tiny-Q4_K_M.gguf").read_bytes() == b"mine"


async def test_rm_deletes_what_was_pulled_and_only_that(fresh: HfHubDouble, models_dir: Path) -> None:
    hub = make_hub(fresh, models_dir)
    await pull(hub, f"{TINY}:Q4_K_M")
    await pull(hub, f"{TINY}:Q8_0")
    await hub.delete(TINY)  # what `arena pull hf:<repo>` pulls: the default quant
    assert leftovers(models_dir) == ["tiny-Q8_0.gguf", "tiny-Q8_0.gguf.hf.json"]
    await pull(hub, TINY)
    await hub.delete(f"{TINY}:Q8_0")
    assert leftovers(models_dir) == ["tiny-Q4_K_M.gguf", "tiny-Q4_K_M.gguf.hf.json"]

    engine = EmbeddedEngine(data_dir=models_dir.parent / "data", models_dir=models_dir, slots=1)
    (models_dir / "dropped.gguf").write_bytes(b"by hand")
    try:
        await engine.delete("tiny-q4_k_m")
        with pytest.raises(InvalidInput, match="not pulled by the arena"):
            await engine.delete("dropped")
        with pytest.raises(InvalidInput, match="cannot be deleted"):
            await engine.delete("smollm2-135m-instruct")
    finally:
        await engine.aclose()
    assert leftovers(models_dir) == ["dropped.gguf"]
