"""Argon2id off the event loop, in a bounded pool of threads (argon2-cffi releases the GIL).

Bounded twice: `workers` threads hash at once, and at most `max_pending` wait behind them; a
burst beyond that is refused at once — `Busy`, answered 503 with Retry-After wherever a hash runs
(confirm, login, change, reset) — instead of queueing until memory runs out. Every caller hashes
before it writes, so a refused request has stored nothing.
"""

import asyncio
import contextlib
import os
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from prometheus_client import Counter, Gauge

from runtime.errors import ApiError

# OWASP's argon2id minimum: m = 19 MiB, t = 2, p = 1.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
HASHES = Counter("accounts_password_hashes_total", "Argon2id computations run", ["operation"])
# CPU time of the hashes themselves, as the hashing threads spent it: beside the count, what one
# hash costs here and now (issue 12's load bench sets it against a verify on a quiet core).
HASH_CPU = Counter(
    "accounts_password_hash_cpu_seconds_total", "CPU seconds the argon2id computations took", ["operation"]
)
REFUSED = Counter("accounts_password_hashes_refused_total", "Argon2id computations refused: the pool was full")
# Running plus waiting; alert when it stays near workers + PORTAL_HASH_MAX_PENDING (503s follow).
QUEUE_DEPTH = Gauge("portal_hash_queue_depth", "Argon2id computations running or waiting")
QUEUE_CAPACITY = Gauge("portal_hash_queue_capacity", "Argon2id computations that may run or wait at once")
BUSY = "Das Kundenportal ist gerade stark ausgelastet. Bitte versuchen Sie es in einer Minute erneut."
RETRY_AFTER_SECONDS = 30
# The hashing threads yield to the event loop: at nice 10 the kernel gives a runnable loop thread
# about nine times their share, so requests that need no hash (GET /me, the pages) keep their pace
# while members log in, and the hashes still take every cycle nothing else wants (issue 12).
HASH_NICENESS = 10


class Busy(ApiError):
    """Too many hashes waiting: 503, and the client tries again shortly."""

    def __init__(self) -> None:
        super().__init__(503, "busy", BUSY, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class Hashing:
    def __init__(self, workers: int, max_pending: int = 64) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="argon2", initializer=_yield_to_requests
        )
        self._capacity = workers + max_pending  # running plus waiting
        QUEUE_CAPACITY.set(self._capacity)
        self._in_flight = 0
        self._dummy: str | None = None
        self._dummy_made = asyncio.Lock()

    async def hash(self, password: str) -> str:
        return await self._run("hash", HASHER.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """False for a wrong password — and for no hash at all, after the same work, so an
        unknown address takes as long as a known one."""
        if stored_hash is None:
            await self._run("verify", _check, await self._dummy_hash(), password)
            return False
        return await self._run("verify", _check, stored_hash, password)

    async def _dummy_hash(self) -> str:
        """Made once, by the first check that needs it: concurrent first ones wait for it rather
        than each hashing one more."""
        async with self._dummy_made:
            if self._dummy is None:
                self._dummy = await self._run("hash", HASHER.hash, secrets.token_hex(16))
        return self._dummy

    async def _run(self, operation: str, function, *args):
        if self._in_flight >= self._capacity:
            REFUSED.inc()
            raise Busy()
        self._in_flight += 1
        QUEUE_DEPTH.inc()
        HASHES.labels(operation).inc()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, _timed, operation, function, *args)
        finally:
            self._in_flight -= 1
            QUEUE_DEPTH.dec()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _yield_to_requests() -> None:
    """Linux schedules threads one by one: this lowers the calling hashing thread only."""
    with contextlib.suppress(OSError, AttributeError):  # elsewhere: the thread keeps its priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)


def _timed(operation: str, function, *args):
    started = time.thread_time()
    try:
        return function(*args)
    finally:
        HASH_CPU.labels(operation).inc(time.thread_time() - started)


def _check(stored_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
