"""A worker loop that wakes on Postgres `NOTIFY`, polls as a fallback, and outlives outages.

The outbox relay and the mail worker both drain a table this way: `drain()` does one pass and
returns how many rows it handled; a full batch means there may be more, so it runs again at once.
Work written in the same process by a statement of its own can wake the loop directly (`here`).
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
) -> None:
    wake = asyncio.Event()
    backoff = poll_interval
    while True:
        try:
            await _listen(pool, channel, drain, wake, batch_size, poll_interval)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # Postgres, NATS or SMTP away: wait longer each time
            log.warning("%s interrupted", name, extra={"error": repr(error)})
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, LONGEST_BACKOFF)
        else:
            backoff = poll_interval


# The loops of this process that listen, by channel: their event loop and their wake-up.
_HERE: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Event]] = {}


def here(channel: str) -> asyncio.Event | None:
    """The wake-up of a loop of this process (and this event loop) listening on `channel`, or
    None. A writer whose statement has committed may set it instead of sending a NOTIFY, which
    costs Postgres a signal and the listener's wake-up for every commit (issue 12); other
    processes' loops then find the work at their next poll."""
    found = _HERE.get(channel)
    if found is None or found[0] is not asyncio.get_running_loop():
        return None
    return found[1]


def after_commit(conn: asyncpg.Connection, channel: str) -> asyncio.Event | None:
    """The wake-up to set once the statement about to run on `conn` has committed, in place of
    its NOTIFY: None inside a transaction (its commit is still to come) or when no loop of this
    process listens on `channel` — then the statement sends the NOTIFY."""
    return None if conn.is_in_transaction() else here(channel)


async def _listen(pool, channel, drain, wake: asyncio.Event, batch_size: int, poll_interval: float) -> None:
    listener = await pool.acquire()

    def notified(*_: object) -> None:
        wake.set()

    try:
        await listener.add_listener(channel, notified)
        _HERE[channel] = (asyncio.get_running_loop(), wake)
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
        if _HERE.get(channel, (None, None))[1] is wake:
            del _HERE[channel]
        with contextlib.suppress(Exception):
            await listener.remove_listener(channel, notified)
        with contextlib.suppress(Exception):  # the pool may have taken a broken one back
            await pool.release(listener)


def _closed(conn: asyncpg.Connection) -> bool:
    try:
        return conn.is_closed()
    except asyncpg.InterfaceError:
        return True
