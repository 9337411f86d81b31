"""Which file `hf:<org>/<repo>[:<quant or file>]` means: pure, no hub."""

from __future__ import annotations

import pytest

from arena.engines.hf_repo import RepoFile, choose_file, parse_hf_name, quant_of
from arena.errors import InvalidInput, ModelNotAvailable


def files(*names: str, sizes: dict[str, int] | None = None) -> list[RepoFile]:
    return [RepoFile(path=n, size=(sizes or {}).get(n, 100), sha256="0" * 64, git_sha1=None) for n in names]


@pytest.mark.parametrize(
    ("name", "quant"),
    [
        ("Qwen2.5-0.5B-Instruct-Q4_K_M.gguf", "Q4_K_M"),
        ("llama-3.2-1b-instruct-q8_0.gguf", "Q8_0"),
        ("model.IQ3_XXS.gguf", "IQ3_XXS"),
        ("model-bf16.gguf", "BF16"),
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "Q4_1"),
        ("model.gguf", None),
    ],
)
def test_the_quantization_is_read_from_the_file_name(name: str, quant: str | None) -> None:
    assert quant_of(name) == quant


def test_the_default_is_q4_k_m_then_the_next_usual_quant_then_the_smallest() -> None:
    ref = parse_hf_name("org/repo")
    assert choose_file(ref, files("m-Q8_0.gguf", "m-Q4_K_M.gguf", "m-Q4_K_S.gguf")).path == "m-Q4_K_M.gguf"
    assert choose_file(ref, files("m-Q8_0.gguf", "m-Q4_0.gguf")).path == "m-Q4_0.gguf"
    odd = files("m-Q6_K.gguf", "m-Q3_K_L.gguf", sizes={"m-Q6_K.gguf": 600, "m-Q3_K_L.gguf": 300})
    assert choose_file(ref, odd).path == "m-Q3_K_L.gguf"


def test_a_quant_is_matched_whole_and_projectors_and_split_files_are_left_out() -> None:
    repo = files("m-Q4_K_M.gguf", "m-Q4_K_S.gguf", "mmproj-m-Q4_K.gguf", "m-Q4_K-00001-of-00002.gguf")
    with pytest.raises(ModelNotAvailable, match="no Q4_K GGUF; it has: Q4_K_M, Q4_K_S"):
        choose_file(parse_hf_name("org/repo:Q4_K"), repo)
    with pytest.raises(ModelNotAvailable, match="split over several files"):
        choose_file(parse_hf_name("org/repo"), files("m-00001-of-00002.gguf", "m-00002-of-00002.gguf"))


def test_two_files_of_one_quant_ask_for_the_file_name() -> None:
    repo = files("a/m-Q4_K_M.gguf", "b/m-Q4_K_M.gguf")
    with pytest.raises(InvalidInput, match="all match; name the file"):
        choose_file(parse_hf_name("org/repo:Q4_K_M"), repo)
    assert choose_file(parse_hf_name("org/repo:b/m-Q4_K_M.gguf"), repo).path == "b/m-Q4_K_M.gguf"


@pytest.mark.parametrize("name", ["", "org", "org/", "/repo", "org/repo/extra", "org/re po", "org/..", "org/repo:Q4 K", "org/repo:a/../b.gguf"])
def test_a_malformed_name_is_refused(name: str) -> None:
    with pytest.raises(InvalidInput):
        parse_hf_name(name)
