"""Which GGUF of a Hugging Face repo a pull means: pure, no I/O.

`hf:<org>/<repo>` takes the default quantization, `hf:<org>/<repo>:Q4_K_M` the file whose name
carries that quantization, `hf:<org>/<repo>:<file>.gguf` that file. The default is the first of
DEFAULT_QUANTS the repo has, else its smallest GGUF: Q4_K_M is llama.cpp's usual balance of
size and quality.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Final

from arena.errors import InvalidInput, ModelNotAvailable

DEFAULT_QUANTS: Final = ("Q4_K_M", "Q4_K_S", "Q4_0", "Q5_K_M", "Q8_0")
# org/repo as the hub allows them: letters, digits, `-`, `_`, `.`; no `..`, no leading dot.
_REPO_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
_QUANT: Final = re.compile(r"[A-Za-z0-9_]{1,32}")
_FILE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+-]{0,250}\.gguf", re.IGNORECASE)
# A model split over several files (`-00001-of-00003.gguf`): llama.cpp needs them all side by side.
_SPLIT: Final = re.compile(r"-\d{5}-of-\d{5}\.gguf$", re.IGNORECASE)
# Quantization names as GGUF file names carry them (Q4_K_M, IQ3_XXS, F16, BF16, Q8_0 …).
_QUANT_IN_NAME: Final = re.compile(
    r"(?<![A-Za-z0-9])((?:I?Q\d+(?:_[A-Z0-9]+)*)|B?F16|F32)(?![A-Za-z0-9])", re.IGNORECASE
)


@dataclass(frozen=True, kw_only=True)
class HfRef:
    repo: str  # org/repo
    quant: str | None = None
    file: str | None = None

    def __str__(self) -> str:
        return f"hf:{self.repo}" + (f":{self.file or self.quant}" if self.file or self.quant else "")


@dataclass(frozen=True, kw_only=True)
class RepoFile:
    """A file of the repo as the hub describes it."""

    path: str  # relative to the repo root
    size: int | None
    sha256: str | None  # the LFS object's sha256; None for a file kept in git itself
    git_sha1: str | None  # the git blob id (sha1 of "blob <size>\0" + content)

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name


def parse_hf_name(name: str) -> HfRef:
    """`org/repo[:quant or file]` (the part after `hf:`) → what to pull; 400 for anything else."""
    repo, _, selector = name.strip().partition(":")
    if not _REPO_ID.fullmatch(repo) or ".." in repo:
        raise InvalidInput(f"'hf:{name}' is not a Hugging Face repo: write hf:<org>/<repo>[:<quant or file.gguf>]")
    if not selector:
        return HfRef(repo=repo)
    if selector.lower().endswith(".gguf"):
        if not _FILE.fullmatch(selector) or ".." in selector:
            raise InvalidInput(f"{selector!r} is not a file name in a repo")
        return HfRef(repo=repo, file=selector)
    if not _QUANT.fullmatch(selector):
        raise InvalidInput(f"{selector!r} is neither a quantization (like Q4_K_M) nor a .gguf file name")
    return HfRef(repo=repo, quant=selector)


def quant_of(file_name: str) -> str | None:
    """The quantization a GGUF's name carries (`…-Q4_K_M.gguf` → Q4_K_M), upper-case; None without one."""
    found = _QUANT_IN_NAME.findall(PurePosixPath(file_name).stem)
    return found[-1].upper() if found else None


def _ggufs(files: list[RepoFile]) -> list[RepoFile]:
    """The single-file models: no vision projector (mmproj), no split parts."""
    return [
        f
        for f in files
        if f.path.lower().endswith(".gguf") and "mmproj" not in f.name.lower() and not _SPLIT.search(f.name)
    ]


def choose_file(ref: HfRef, files: list[RepoFile]) -> RepoFile:
    """The GGUF the reference means; ModelNotAvailable (404) saying what the repo does have."""
    ggufs = _ggufs(files)
    if not ggufs:
        split = any(_SPLIT.search(f.name) for f in files)
        why = "only GGUFs split over several files, which the arena does not pull yet" if split else "no .gguf file"
        raise ModelNotAvailable(f"hf:{ref.repo} has {why}: pick a repo with single-file GGUF models")
    available = ", ".join(sorted({quant_of(f.name) or f.name for f in ggufs}))
    if ref.file is not None:
        matches = [f for f in ggufs if ref.file in (f.path, f.name)]
        named = [f for f in files if ref.file in (f.path, f.name)]
        if not matches and named and "mmproj" in named[0].name.lower():
            raise ModelNotAvailable(
                f"{ref.file!r} in hf:{ref.repo} is a vision projector (mmproj): the arena runs text models only, "
                f"not projectors; its GGUFs: {available}"
            )
        if not matches and named:
            raise ModelNotAvailable(
                f"{ref.file!r} in hf:{ref.repo} is one part of a split GGUF, which the arena does not pull yet"
            )
        if not matches:
            raise ModelNotAvailable(f"hf:{ref.repo} has no file {ref.file!r}; its GGUFs: {available}")
    elif ref.quant is not None:
        matches = [f for f in ggufs if quant_of(f.name) == ref.quant.upper()]
        if not matches:
            raise ModelNotAvailable(f"hf:{ref.repo} has no {ref.quant} GGUF; it has: {available}")
    else:
        matches = _default(ggufs)
    if len(matches) > 1:
        names = ", ".join(f.path for f in matches)
        raise InvalidInput(f"hf:{ref.repo}: {names} all match; name the file: hf:{ref.repo}:<file.gguf>")
    if not _FILE.fullmatch(matches[0].path) or ".." in PurePosixPath(matches[0].path).parts:
        raise InvalidInput(f"hf:{ref.repo} names its file {matches[0].path!r}, an unsafe path: not pulled")
    return matches[0]


def default_of(files: list[RepoFile]) -> RepoFile | None:
    """The file `hf:<org>/<repo>` with no quant means among `files` (None when there is none)."""
    ggufs = _ggufs(files)
    matches = _default(ggufs) if ggufs else []
    return matches[0] if len(matches) == 1 else None


def _default(ggufs: list[RepoFile]) -> list[RepoFile]:
    for quant in DEFAULT_QUANTS:
        matches = [f for f in ggufs if quant_of(f.name) == quant]
        if matches:
            return matches
    return [min(ggufs, key=lambda f: (f.size is None, f.size or 0, f.path))]
