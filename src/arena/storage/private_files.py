"""Files only their owner can read: the data directory (0700) and what the arena writes (0600).

The database holds conversations, password hashes and the audit log; reports and exports hold
prompts and answers. Another user of the same machine must read none of them, whatever the
umask, so modes are set explicitly (``os.open`` with a mode, then ``fchmod``/``chmod``), never
by changing the process umask, which other threads share.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from pathlib import Path
from typing import Final, TextIO

DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600
OPEN_TO_OTHERS: Final = 0o077

logger = logging.getLogger(__name__)
_warned: set[Path] = set()
_warned_lock = threading.Lock()


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner can enter: made 0700, or tightened (with one
    warning per process) if it exists with group or other bits."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if os.name != "posix":
        return path
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & OPEN_TO_OTHERS:
        path.chmod(mode & ~OPEN_TO_OTHERS)
        with _warned_lock:
            first = path not in _warned
            _warned.add(path)
        if first:
            logger.warning("%s was open to other users (mode %04o); made it %04o", path, mode, mode & ~OPEN_TO_OTHERS)
    return path


def make_private(path: Path) -> None:
    """Take group and other permissions off an existing file (a no-op if it does not exist)."""
    if os.name != "posix":
        return
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & OPEN_TO_OTHERS:
            path.chmod(mode & ~OPEN_TO_OTHERS)
    except FileNotFoundError:
        return


def create_private(path: Path) -> None:
    """Make ``path`` an empty 0600 file if it does not exist, or take others' bits off it."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        make_private(path)
        return
    os.close(descriptor)


def open_private(path: Path) -> TextIO:
    """``path`` opened for writing text (emptied if it exists), readable by its owner only.
    Lines are written as given (no newline translation): CSV brings its own."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    if os.name == "posix":
        os.fchmod(descriptor, FILE_MODE)  # an existing file keeps its mode otherwise
    return os.fdopen(descriptor, "w", encoding="utf-8", newline="")


def write_private_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (replacing it), readable by its owner only."""
    with open_private(path) as file:
        file.write(text)
