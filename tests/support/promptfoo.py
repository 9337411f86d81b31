"""The promptfoo CLI (npm package `promptfoo`, run with Node), pinned, installed once into a cache.

    promptfoo_cli()        the executable, installed first if missing (a few minutes, once)
    run_promptfoo(...)     `promptfoo <args>` with telemetry, update checks, sharing and its
                           cache off, its own state in a folder of the test's
    python -m tests.support.promptfoo   installs it (what `.ci/run` calls before pytest)

The cache is `$ARENA_TEST_PROMPTFOO_DIR`, else `${XDG_CACHE_HOME:-~/.cache}/local-llm-arena-tests/
promptfoo-<version>`: outside the checkout, shared by worktrees and runs. 0.121.20 is the last
release that runs on Node 20 (`^20.20.0`); later ones need Node 22.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import pytest

PROMPTFOO_VERSION: Final = "0.121.20"
NODE_MAJOR_MINOR: Final = (20, 20)
INSTALL_TIMEOUT_S: Final = 600
QUIET: Final[dict[str, str]] = {
    "PROMPTFOO_DISABLE_TELEMETRY": "1",
    "PROMPTFOO_DISABLE_UPDATE": "1",
    "PROMPTFOO_DISABLE_SHARING": "1",
    "PROMPTFOO_CACHE_ENABLED": "false",
    "NODE_NO_WARNINGS": "1",
}


def cache_dir() -> Path:
    if override := os.environ.get("ARENA_TEST_PROMPTFOO_DIR"):
        return Path(override)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "local-llm-arena-tests" / f"promptfoo-{PROMPTFOO_VERSION}"


def _executable(prefix: Path) -> Path:
    return prefix / "node_modules" / ".bin" / "promptfoo"


def _check_node() -> None:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        raise RuntimeError("promptfoo needs Node.js and npm (Node 20.20 or newer) on PATH")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    major, minor = (int(part) for part in version.lstrip("v").split(".")[:2])
    if (major, minor) < NODE_MAJOR_MINOR:
        raise RuntimeError(f"promptfoo {PROMPTFOO_VERSION} needs Node 20.20 or newer; this is {version}")


def promptfoo_cli() -> Path:
    """The pinned CLI, installed first when the cache lacks it. The install goes to a folder of its
    own, renamed into place at the end: an install cut short never looks finished."""
    target = cache_dir()
    if _executable(target).exists():
        return _executable(target)
    _check_node()
    staging = target.with_name(f"{target.name}.installing-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    command = ["npm", "install", "--prefix", str(staging), "--no-audit", "--no-fund", f"promptfoo@{PROMPTFOO_VERSION}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, env={**os.environ, **QUIET})
    if done.returncode != 0 or not _executable(staging).exists():
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"npm could not install promptfoo {PROMPTFOO_VERSION}:\n{done.stderr[-3000:]}")
    try:
        staging.rename(target)
    except OSError:  # another run finished first: theirs is as good
        shutil.rmtree(staging, ignore_errors=True)
    return _executable(target)


def run_promptfoo(
    executable: Path, args: Sequence[str], *, state_dir: Path, timeout_s: float = 180
) -> subprocess.CompletedProcess[str]:
    """`promptfoo <args>` in `state_dir`, keeping its database and logs there, never reading the
    OpenAI variables of the environment (each test's config says where to go)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(QUIET, PROMPTFOO_CONFIG_DIR=str(state_dir / ".promptfoo"), HOME=str(state_dir))
    return subprocess.run(
        [str(executable), *args], cwd=state_dir, env=env, capture_output=True, text=True, timeout=timeout_s
    )


@pytest.fixture(scope="session")
def promptfoo() -> Path:
    """The promptfoo executable (installed into its cache on first use)."""
    return promptfoo_cli()


if __name__ == "__main__":
    print(promptfoo_cli())
    sys.exit(0)
