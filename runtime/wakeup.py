"""A worker loop that wakes on Postgres `NOTIFY`, polls as a fallback, and outlives outages.

The outbox relay and the mail worker both drain a table this way: `drain()` does one pass and
returns how many rows it handled; a full batch means there may be more, so it runs again at once.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

log = logging.getLogger(__name__)

# A retry while Postgres or NATS is away costs one failed connection attempt; waiting longer
# than this would only stretch the recovery once they are back.
LONGEST_BACKOFF = 5.0


async def run_on_notify(
    pool: asyncpg.Pool,
    channel: str,
    drain: Callable[[], Awaitable[int]],
    *,
    batch_size: int,
    poll_interval: float = 1.0,
    name: str = "worker",
    wake: asyncio.Event | None = None,
    listening: Callable[[bool], None] | None = None,
) -> None:
    """`wake`: an event of the caller's that wakes the loop as a NOTIFY does (work written in
    this process); `listening` is told when the loop starts and stops listening, so a writer
    knows whether setting `wake` reaches a loop that will drain."""
    wake = wake if wake is not None else asyncio.Event()
    backoff = poll_interval
    while True:
        try:
            await _listen(pool, channel, drain, wake, batch_size, poll_interval, listening)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # Postgres, NATS or SMTP away: wait longer each time
            log.warning("%s interrupted", name, extra={"error": repr(error)})
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, LONGEST_BACKOFF)
        else:
            backoff = poll_interval


async def _listen(pool, channel, drain, wake: asyncio.Event, batch_size: int, poll_interval: float, listening) -> None:
    listener = await pool.acquire()

    def notified(*_: object) -> None:
        wake.set()

    try:
        await listener.add_listener(channel, notified)
        if listening is not None:
            listening(True)
        while True:
            wake.clear()
            while await drain() >= batch_size:
                pass
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel that
            # meets a NOTIFY (gh-86296), and shutdown would then wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll_interval):
                    await wake.wait()
            if _closed(listener):
                raise ConnectionError("listener connection closed")
    finally:
        if listening is not None:
            listening(False)
        with contextlib.suppress(Exception):
            await listener.remove_listener(channel, notified)
        with contextlib.suppress(Exception):  # the pool may have taken a broken one back
            await pool.release(listener)


def _closed(conn: asyncpg.Connection) -> bool:
    try:
        return conn.is_closed()
    except asyncpg.InterfaceError:
        return True
