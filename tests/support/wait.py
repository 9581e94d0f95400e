"""Waiting for the thing itself — a row, a state — with a deadline, never a fixed sleep."""

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
POLL = 0.05


async def until(check: Callable[[], Awaitable[T] | T], what: str, timeout: float = 20.0) -> T:
    """Poll `check()` (a coroutine function, or a plain one for state in this process) until it
    returns something truthy; return that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (found := await _value(check())):
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        await asyncio.sleep(POLL)
    return found


async def _value(result):
    return await result if inspect.isawaitable(result) else result
