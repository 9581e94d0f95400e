"""The yearly PIN issue: `python -m tests.bench.bench_annual [N]` (default 50,000 businesses).

Prints the time to write the PIN rows, markers and outbox rows (batches of 1,000, one
transaction each); publishing is the running service's outbox relay and not measured here.
"""

import asyncio
import sys
from datetime import UTC, datetime

from runtime import db
from runtime.crypto import generate_keypair
from services.pins import annual
from services.pins.app import MIGRATIONS
from services.pins.context import SCHEMA, Context, pin_key
from services.pins.register import import_register
from tests.bench.common import Stopwatch, database, register_file


async def measure(dsn: str, n: int) -> dict[str, float]:
    pool = await db.create_pool(dsn, SCHEMA, MIGRATIONS, max_size=2)
    try:
        await import_register(pool, register_file(n), datetime.now(UTC))
        context = Context(
            pool=pool, clock=lambda: datetime.now(UTC), pin_key=pin_key("x" * 40), printshop_key=generate_keypair()[0]
        )
        watch = Stopwatch()
        result = await annual.issue(context, 2030)
        figures = {"yearly issue": watch.lap()}
        assert result.issued_total == n
        again = await annual.issue(context, 2030)
        figures["second run (nothing to do)"] = watch.lap()
        assert again.already_finished
        outbox = await pool.fetchval("select count(*) from outbox where subject = 'pin.requested.v1'")
        assert outbox == n
    finally:
        await pool.close()
    return figures


async def main(n: int) -> None:
    async with database("bench_annual") as dsn:
        figures = await measure(dsn, n)
    print(f"yearly PIN issue, {n:,} businesses (Postgres with fsync)")
    for name, seconds in figures.items():
        print(f"  {name:28} {seconds:7.2f} s  ({n / max(seconds, 1e-9):9,.0f} letters/s)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000))
