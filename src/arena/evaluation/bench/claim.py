"""Who is running a benchmark, and whether they still are.

A worker is named ``host:pid:token``. It writes a heartbeat every ``HEARTBEAT_S``. Another
process may take a run over when the worker is known dead: on this host, when its process is
gone (so ``resume`` works at once after ``kill -9``); anywhere, when the heartbeat is older than
``STALE_AFTER_S`` (another host, or a pid that was reused). Inside one process (the web
server), a worker is alive while its token is registered here.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from arena.storage.models import utcnow

HEARTBEAT_S: Final = 1.0
STALE_AFTER_S: Final = 30.0

_active_tokens: set[str] = set()


def new_worker() -> str:
    token = secrets.token_hex(6)
    _active_tokens.add(token)
    return f"{socket.gethostname()}:{os.getpid()}:{token}"


def retire_worker(worker: str) -> None:
    _active_tokens.discard(worker.rsplit(":", 1)[-1])


def worker_alive(worker: str | None, *, heartbeat_at: datetime | None, now: datetime | None = None) -> bool:
    """False when the worker has certainly stopped; True while it may still be working."""
    if worker is None:
        return False
    now = now or utcnow()
    if heartbeat_at is None or now - heartbeat_at > timedelta(seconds=STALE_AFTER_S):
        return False
    host, pid_text, token = _split(worker)
    if host != socket.gethostname():
        return True  # another machine: only its heartbeat can tell
    if pid_text == str(os.getpid()):
        return token in _active_tokens
    return pid_text.isdigit() and _process_running(int(pid_text))


def _split(worker: str) -> tuple[str, str, str]:
    host_and_pid, _, token = worker.rpartition(":")
    host, _, pid = host_and_pid.rpartition(":")
    return host, pid, token


def _process_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    # A killed child nobody has reaped yet is a zombie: it exists but runs nothing.
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True
