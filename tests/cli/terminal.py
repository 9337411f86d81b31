"""Run `arena` as a user does: in a real pseudo-terminal of a given width, or into a pipe."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def arena_env(**extra: str) -> dict[str, str]:
    """This test's environment (its data directory, its Ollama), without a COLUMNS that would
    override the terminal's real width."""
    env = {name: value for name, value in os.environ.items() if name not in ("COLUMNS", "LINES")}
    return env | extra


def in_terminal(args: list[str], *, columns: int, env: dict[str, str], timeout: float = 120) -> list[str]:
    """The lines `arena ARGS` writes to a terminal `columns` wide, colours stripped."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "arena", *args], stdin=follower, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the command ended and closed the terminal
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(timeout=max(1.0, deadline - time.monotonic())) == 0, output.decode(errors="replace")
    finally:
        process.kill()
        os.close(leader)
    text = ANSI.sub("", output.decode("utf-8", errors="replace")).replace("\r\n", "\n")
    return text.splitlines()


def in_pipe(args: list[str], *, env: dict[str, str], timeout: float = 120) -> list[str]:
    """The lines `arena ARGS` writes into a pipe (`arena models | grep …`)."""
    done = subprocess.run(
        [sys.executable, "-m", "arena", *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()
