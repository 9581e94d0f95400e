"""Anchors measured in the same run as the figures they anchor (issue 12): what this machine, right
now, gives a bare handler and an argon2 verify, so every figure of tests/bench/load.py reads as a
ratio on any machine, shared or quiet. The bare aiohttp handler is tests/bench/upstream_echo.py,
driven by load.py's own closed loop."""

import time
from concurrent.futures import ThreadPoolExecutor

from services.accounts.hashing import HASHER

PASSWORD = "Dachrinne im Herbst reinigen"


def argon2_verify_seconds(repeat: int = 21) -> float:
    """CPU time of one verify at the portal's parameters (services/accounts/hashing.py), median."""
    stored = HASHER.hash(PASSWORD)
    times = []
    for _ in range(repeat):
        started = time.process_time()
        HASHER.verify(stored, PASSWORD)
        times.append(time.process_time() - started)
    return sorted(times)[len(times) // 2]


def argon2_parallel_rate(threads: int, seconds: float = 2.0) -> float:
    """Verifies per second with `threads` at once: the bound as this machine offers it right now
    (on a shared machine less than cores ÷ one verify's time)."""
    stored = HASHER.hash(PASSWORD)
    stop = time.perf_counter() + seconds

    def work() -> int:
        count = 0
        while time.perf_counter() < stop:
            HASHER.verify(stored, PASSWORD)
            count += 1
        return count

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(lambda _: work(), range(threads))) / seconds
