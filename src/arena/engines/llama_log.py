"""llama.cpp's own log (model loading, KV-cache notes, ggml) as Python logging records at DEBUG.

Left alone, llama.cpp prints to stderr; llama-cpp-python installs a callback that still prints
to stderr, through a level table older than ggml's current one (so a warning such as Gemma's
"using full-size SWA cache" comes out as an error). Those lines leaked into `arena` output and
the server log. Ours hands each whole line to the ``arena.llama_cpp`` logger at DEBUG, whatever
llama.cpp's own level (kept in the message): nothing shows unless logging asks for DEBUG
(``ARENA_LOG_LEVEL=debug``).
"""

from __future__ import annotations

import ctypes
import logging
import threading
from typing import Any

logger = logging.getLogger("arena.llama_cpp")

# ggml_log_level: 0 none, 1 debug, 2 info, 3 warn, 4 error, 5 continues the previous line.
_LEVEL_NAMES = {0: "none", 1: "debug", 2: "info", 3: "warn", 4: "error"}
_CONTINUE = 5

_install_lock = threading.Lock()
_callback: Any = None  # the ctypes function object: llama.cpp holds a bare pointer to it, so keep it alive
_pending = threading.local()  # each thread's unfinished line: llama.cpp logs from several threads


def _on_log(level: int, text: bytes | None, _user_data: object) -> None:
    """Called by llama.cpp (from C, any thread): an exception here would print a traceback, so none escapes."""
    try:
        if not logger.isEnabledFor(logging.DEBUG):
            _pending.__dict__.pop("text", None)
            return
        if level != _CONTINUE:
            _pending.level = _LEVEL_NAMES.get(level, str(level))
        buffered = getattr(_pending, "text", "") + (text or b"").decode("utf-8", errors="replace")
        *lines, _pending.text = buffered.split("\n")
        for line in lines:
            if line.strip():
                logger.debug("[%s] %s", getattr(_pending, "level", "info"), line.rstrip())
    except Exception:  # never raise into C; a lost log line is harmless
        pass


def route_llama_log() -> None:
    """Install the callback (once per process). Call it after importing llama_cpp, which sets its own."""
    global _callback
    import llama_cpp

    with _install_lock:
        if _callback is None:
            _callback = llama_cpp.llama_log_callback(_on_log)
            llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))
