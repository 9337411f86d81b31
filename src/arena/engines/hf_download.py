"""One file from the hub into `<model>.part`, resumed where an earlier try stopped, hashed as it lands.

Runs on a worker thread. huggingface_hub's `http_get` does the transfer (Range requests, its own
retries after a cut connection, a 200 that ignores the Range); we hand it a file object that
hashes every byte written, counts them for the progress bar and ends the transfer when the pull
is cancelled. The bytes already in the `.part` file are hashed first, so a resumed file is
checked whole. Only a file whose digest matches the hub's metadata becomes `<model>`.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from huggingface_hub.file_download import http_get
from tqdm.auto import tqdm

READ_CHUNK = 4 * 1024 * 1024


class Cancelled(Exception):
    """The pull was given up (its client left): the part stays, to be resumed."""


class _Quiet(tqdm):  # type: ignore[misc]  # the progress goes to the arena's own bar, not to stderr
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["disable"] = True
        super().__init__(*args, **kwargs)


class Digests:
    """sha256 (what the hub states for LFS files) and the git blob sha1 (for files kept in git)."""

    def __init__(self, size: int | None) -> None:
        self.size = size
        self.reset()

    def reset(self) -> None:
        self.sha256 = hashlib.sha256()
        self.git_sha1 = hashlib.sha1(f"blob {self.size or 0}\0".encode(), usedforsecurity=False)

    def update(self, data: bytes) -> None:
        self.sha256.update(data)
        self.git_sha1.update(data)

    def hash_file(self, path: Path, length: int) -> None:
        self.reset()
        with path.open("rb") as handle:
            left = length
            while left > 0:
                data = handle.read(min(READ_CHUNK, left))
                if not data:
                    break
                self.update(data)
                left -= len(data)


class HashingWriter:
    """The file object `http_get` writes to: hashes, counts, and stops on cancel."""

    def __init__(
        self, handle: BinaryIO, path: Path, digests: Digests, cancel: threading.Event, on_bytes: Callable[[int], None]
    ) -> None:
        self._handle = handle
        self._path = path
        self._digests = digests
        self._cancel = cancel
        self._on_bytes = on_bytes
        self.written = handle.tell()

    def write(self, data: bytes) -> int:
        if self._cancel.is_set():
            raise Cancelled
        count = self._handle.write(data)
        self._digests.update(data)
        self.written += len(data)
        self._on_bytes(self.written)
        return count

    def tell(self) -> int:
        return self._handle.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._handle.seek(offset, whence)

    def truncate(self, size: int | None = None) -> int:
        """The server ignored our Range and sends the whole file again: start the digest afresh."""
        self._handle.flush()
        length = self._handle.truncate(size)
        self._handle.seek(length)
        self._digests.hash_file(self._path, length)
        self.written = length
        return length


def download(
    url: str,
    part: Path,
    *,
    size: int | None,
    cancel: threading.Event,
    on_bytes: Callable[[int], None],
) -> Digests:
    """Fetch `url` into `part` (appending to what is there); the digests of the whole part file."""
    digests = Digests(size)
    resume = part.stat().st_size if part.exists() else 0
    if size is not None and resume > size:  # not a prefix of this file: start again
        part.unlink()
        resume = 0
    if resume:
        digests.hash_file(part, resume)
    on_bytes(resume)
    with part.open("ab") as handle:
        writer = HashingWriter(handle, part, digests, cancel, on_bytes)
        http_get(
            url,
            writer,  # type: ignore[arg-type]  # a file object in all http_get uses
            resume_size=resume,
            expected_size=size,
            headers={"user-agent": "local-llm-arena"},
            tqdm_class=_Quiet,
        )
        handle.flush()
        os.fsync(handle.fileno())
    return digests
