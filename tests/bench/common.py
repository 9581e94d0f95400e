"""What the benchmarks share: a Postgres of their own (or a DSN), and generated register files."""

import contextlib
import random
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from deploy.infra import Postgres

HEADER = "Betriebsnummer;Name;Straße;PLZ;Ort;E-Mail;Gewerk"
TRADES = ["Maler und Lackierer", "Tischler", "Elektrotechniker", "Dachdecker", "Friseure", "Bäcker", ""]


def register_file(n: int, *, seed: int = 1, renamed: int = 0) -> bytes:
    """n businesses (numbers 1000001…); the first `renamed` ones with another name."""
    rng = random.Random(seed)
    lines = [HEADER]
    for i in range(n):
        number = str(1_000_001 + i)
        name = f"{'Neu ' if i < renamed else ''}Betrieb {number} GmbH & Co. KG"
        email = f"info@betrieb-{number}.de" if rng.random() < 0.7 else ""
        lines.append(
            f"{number};{name};Hauptstraße {rng.randint(1, 200)};{rng.randint(10000, 99999)};"
            f"Wiesbaden;{email};{rng.choice(TRADES)}"
        )
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


@contextlib.asynccontextmanager
async def database(name: str, dsn_base: Postgres | None = None) -> AsyncIterator[str]:
    """A fresh database: on `dsn_base` when given (the test session's), else on a Postgres of our own."""
    if dsn_base is not None:
        yield await dsn_base.create_database(f"{name}_{random.randrange(1 << 32):08x}")
        return
    folder = Path(tempfile.mkdtemp(prefix="kp-bench-"))
    server = Postgres(folder / "data", durable=True)
    await server.start()
    try:
        yield await server.create_database(name)
    finally:
        await server.stop()
        shutil.rmtree(folder, ignore_errors=True)


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def lap(self) -> float:
        now = time.perf_counter()
        elapsed, self.started = now - self.started, now
        return elapsed
