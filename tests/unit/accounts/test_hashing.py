"""The hashing pool refuses at once beyond `workers` running plus `max_pending` waiting, and the
refusal is the portal's 503 with Retry-After wherever it is raised."""

import asyncio

import pytest

from runtime.errors import ApiError
from services.accounts.hashing import Busy, Hashing


async def test_beyond_the_workers_and_the_waiting_a_hash_is_refused_with_503() -> None:
    hashing = Hashing(workers=1, max_pending=1)
    try:
        running = [asyncio.create_task(hashing.hash(f"Passwort Nummer {i}")) for i in range(2)]
        await asyncio.sleep(0)  # both have taken their place in the pool
        with pytest.raises(Busy) as refused:
            await hashing.verify(None, "noch eines")
        assert isinstance(refused.value, ApiError) and refused.value.status == 503
        assert refused.value.headers["Retry-After"].isdigit() and "ausgelastet" in refused.value.message
        stored = await asyncio.gather(*running)
        assert await hashing.verify(stored[0], "Passwort Nummer 0")  # and once they are done, it hashes again
    finally:
        hashing.close()
