"""The hashing pool refuses at once beyond `workers` running plus `max_pending` waiting, and the
refusal is the portal's 503 with Retry-After wherever it is raised."""

import asyncio
import os
import threading

import pytest

from runtime.errors import ApiError
from services.accounts.hashing import HASH_NICENESS, Busy, Hashing
from tests.support.wait import until


async def test_beyond_the_workers_and_the_waiting_a_hash_is_refused_with_503() -> None:
    hashing = Hashing(workers=1, max_pending=1)
    gate = threading.Event()  # holds the one worker: one computation runs, one waits
    try:
        running = [asyncio.create_task(hashing._run("hash", gate.wait)) for _ in range(2)]
        await until(lambda: hashing._in_flight == 2, "both have taken their place in the pool")
        with pytest.raises(Busy) as refused:
            await hashing.verify(None, "noch eines")
        assert isinstance(refused.value, ApiError) and refused.value.status == 503
        assert refused.value.headers["Retry-After"].isdigit() and "ausgelastet" in refused.value.message
        gate.set()
        await asyncio.gather(*running)
        stored = await hashing.hash("Passwort Nummer 0")
        assert await hashing.verify(stored, "Passwort Nummer 0")  # and once they are done, it hashes again
    finally:
        gate.set()
        hashing.close()


async def test_hashing_threads_yield_to_the_event_loop() -> None:
    """A hashing thread runs at a lower priority than the loop that serves requests (Linux)."""
    hashing = Hashing(workers=1)
    try:
        niceness = await asyncio.get_running_loop().run_in_executor(
            hashing._pool, lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        )
    finally:
        hashing.close()
    assert niceness == os.getpriority(os.PRIO_PROCESS, 0) + HASH_NICENESS or niceness == 19
