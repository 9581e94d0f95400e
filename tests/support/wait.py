"""Waiting for the thing itself — a row, a state — with a deadline, never a fixed sleep."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
POLL = 0.05


async def until(check: Callable[[], Awaitable[T]], what: str, timeout: float = 20.0) -> T:
    """Poll `check()` until it returns something truthy; return that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (found := await check()):
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        await asyncio.sleep(POLL)
    return found
