"""A .gguf whose header is damaged (lengths and counts no real file has) is that model's error,
never the model list's: the other local models stay listed and answer, the damaged one is
listed without facts and refuses to load, and a pull's check refuses it. Real SmolLM2 bytes with
a few of them changed, as a bad disk or a cut copy leaves them."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from arena.engines.base import GenerationRequest, Message, SamplingOptions
from arena.engines.catalog import smollm2_gguf_path
from arena.engines.embedded import EmbeddedEngine
from arena.engines.gguf_check import needed_length
from arena.engines.gguf_metadata import NotGguf, has_chat_template, metadata_keys
from arena.errors import EngineError

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

HEADER = 24  # magic, version, tensor count, metadata count; then the first key's length


def first_key_length(value: int) -> Callable[[bytearray], None]:
    return lambda data: data.__setitem__(slice(HEADER, HEADER + 8), struct.pack("<Q", value))


def metadata_count(value: int) -> Callable[[bytearray], None]:
    return lambda data: data.__setitem__(slice(16, 24), struct.pack("<Q", value))


def all_ones_counts(data: bytearray) -> None:
    data[8:24] = b"\xff" * 16


DAMAGE = {
    "a 1 TB key": first_key_length(2**40),
    "a key longer than a seek can go": first_key_length(2**63 + 5),
    "2^40 metadata keys": metadata_count(2**40),
    "counts all ones": all_ones_counts,
}


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[EmbeddedEngine]:
    models = tmp_path / "models"
    models.mkdir()
    original = smollm2_gguf_path().read_bytes()
    for index, damage in enumerate(DAMAGE.values()):
        data = bytearray(original)
        damage(data)
        (models / f"damaged-{index}.gguf").write_bytes(bytes(data))
    engine = EmbeddedEngine(data_dir=tmp_path / "data", models_dir=models, slots=1, n_ctx=512, threads=1)
    yield engine
    await engine.aclose()


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_header_is_not_a_gguf_to_every_reader(tmp_path: Path, damage: Callable[[bytearray], None]) -> None:
    data = bytearray(smollm2_gguf_path().read_bytes())
    damage(data)
    path = tmp_path / "damaged.gguf"
    path.write_bytes(bytes(data))
    with pytest.raises(NotGguf):
        metadata_keys(path)
    with pytest.raises(NotGguf):
        needed_length(path)  # a pull refuses to put it in place
    assert has_chat_template(path) is None


async def test_damaged_files_leave_the_other_models_listed_and_answering(engine: EmbeddedEngine) -> None:
    listed = {model.name: model for model in await engine.list_models()}
    assert {"smollm2-135m-instruct", "gemma3-270m"} <= set(listed)
    for index in range(len(DAMAGE)):
        damaged = listed[f"damaged-{index}"]
        assert (damaged.family, damaged.parameter_size, damaged.quantization) == (None, None, None)
        request = GenerationRequest(model=f"damaged-{index}", messages=[Message(role="user", content="Hi")])
        with pytest.raises(EngineError, match="could not load its model file"):
            [chunk async for chunk in engine.stream(request)]
    request = GenerationRequest(
        model="smollm2-135m-instruct",
        messages=[Message(role="user", content="Name a colour.")],
        options=SamplingOptions(num_predict=4, seed=1),
    )
    assert "".join([chunk.text async for chunk in engine.stream(request)])
