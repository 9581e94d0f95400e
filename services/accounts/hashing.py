"""Argon2id off the event loop, in a bounded pool of threads (argon2-cffi releases the GIL).

Bounded twice: `workers` threads hash at once, and at most `max_pending` wait behind them; a
burst beyond that is refused at once (503) instead of queueing until memory runs out.
"""

import asyncio
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's argon2id minimum: m = 19 MiB, t = 2, p = 1.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


class Busy(Exception):
    """Too many hashes waiting: answer 503 and let the client try again shortly."""


class Hashing:
    def __init__(self, workers: int, max_pending: int = 64) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._max_pending = max_pending
        self._pending = 0
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        return await self._run(HASHER.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """False for a wrong password — and for no hash at all, after the same work, so an
        unknown address takes as long as a known one."""
        if stored_hash is None:
            if self._dummy is None:
                self._dummy = await self._run(HASHER.hash, secrets.token_hex(16))
            await self._run(_check, self._dummy, password)
            return False
        return await self._run(_check, stored_hash, password)

    async def _run(self, function, *args):
        if self._pending >= self._max_pending:
            raise Busy()
        self._pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)
        finally:
            self._pending -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _check(stored_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
