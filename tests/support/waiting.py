"""Waiting, in async tests, for what another thread does a moment after a stream's last chunk."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """True as soon as `condition()` holds; its last answer once `timeout` seconds have passed."""
    for _ in range(int(timeout / 0.01)):
        if condition():
            return True
        await asyncio.sleep(0.01)
    return condition()
