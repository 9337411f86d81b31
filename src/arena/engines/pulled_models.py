"""The GGUFs `arena pull hf:…` put into ARENA_MODELS_DIR, and where each came from.

Beside each pulled `<file>.gguf` lies `<file>.gguf.hf.json`: the repo, file, commit and sha256 it
was checked against. That record is what makes a file the arena's to delete: a GGUF an admin
dropped into the folder by hand is listed like any other but never deleted by the arena. A
download in progress is `<file>.gguf.part` (resumed by the next pull of the same file).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from filelock import FileLock
from filelock import Timeout as Locked

from arena.errors import Conflict, InvalidInput

RECORD_SUFFIX = ".hf.json"
PART_SUFFIX = ".part"
LOCK_SUFFIX = ".lock"  # held by the pull of that file (hf_pull)


@dataclass(frozen=True, kw_only=True)
class PulledRecord:
    repo: str
    file: str  # the path in the repo
    revision: str  # the commit it was downloaded at
    sha256: str | None
    size: int
    quantization: str | None
    endpoint: str


def record_path(model: Path) -> Path:
    return model.with_name(model.name + RECORD_SUFFIX)


def part_path(model: Path) -> Path:
    return model.with_name(model.name + PART_SUFFIX)


def write_record(model: Path, record: PulledRecord) -> None:
    tmp = record_path(model).with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record), indent=2) + "\n", encoding="utf-8")
    tmp.replace(record_path(model))


def read_record(model: Path) -> PulledRecord | None:
    """The record beside a model, or None (dropped in by hand, or a record we cannot read)."""
    try:
        data = json.loads(record_path(model).read_text(encoding="utf-8"))
        return PulledRecord(**data)
    except (OSError, ValueError, TypeError):
        return None


def pulled(models_dir: Path) -> list[tuple[Path, PulledRecord]]:
    """Every pulled model whose file and record are both there, by file name."""
    if not models_dir.is_dir():
        return []
    found = []
    for model in sorted(models_dir.glob("*.gguf")):
        record = read_record(model)
        if record is not None:
            found.append((model, record))
    return found


def local_name(model: Path) -> str:
    """The id after `local:` (as catalog.folder_entries names a file)."""
    return model.stem.lower()


def remove(model: Path) -> None:
    """The model, its record and any partial download of it."""
    model.unlink(missing_ok=True)
    part_path(model).unlink(missing_ok=True)
    record_path(model).unlink(missing_ok=True)


def delete_local(models_dir: Path, name: str) -> Path:
    """`arena rm local:<name>`: delete a model the arena pulled; one put there by hand stays."""
    for model in sorted(models_dir.glob("*.gguf")) if models_dir.is_dir() else []:
        if local_name(model) == name.lower():
            if read_record(model) is None:
                raise InvalidInput(
                    f"local:{name} was not pulled by the arena ({model.name} was put in {models_dir} by hand): "
                    "delete the file yourself"
                )
            remove(model)
            return model
    _refuse_unfinished(models_dir, name)
    raise InvalidInput(
        f"local:{name} cannot be deleted: the arena deletes only the models it pulled (arena pull hf:<org>/<repo>)"
    )


def _refuse_unfinished(models_dir: Path, name: str) -> None:
    """A model not there yet because its pull runs now (its lock is held) or was interrupted (a part)."""
    for part in sorted(models_dir.glob(f"*.gguf{PART_SUFFIX}")) if models_dir.is_dir() else []:
        model = part.with_name(part.name.removesuffix(PART_SUFFIX))
        if local_name(model) != name.lower():
            continue
        if _pull_running(model):
            raise Conflict(f"local:{name} is being pulled right now: delete it once its pull has ended (or stop the pull)")
        raise Conflict(
            f"local:{name} was only partly pulled (the pull was interrupted): pull it again to resume it, "
            f"or delete {part.name} from {models_dir}"
        )


def _pull_running(model: Path) -> bool:
    """Whether a pull (here or in another process) holds the file's lock right now."""
    lock_file = model.with_name(model.name + LOCK_SUFFIX)
    if not lock_file.exists():
        return False
    lock = FileLock(str(lock_file), timeout=0)
    try:
        with lock:
            lock_file.unlink(missing_ok=True)  # left by a pull that died: ours to remove while held
    except Locked:
        return True
    return False
