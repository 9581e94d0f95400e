"""The register import: `python -m tests.bench.bench_import [N]` (default 50,000 rows).

Prints the time to check the file, the first import, an unchanged re-import and a `--full`
import that renames a tenth and leaves out a tenth. No timed assertions: figures to read.
"""

import asyncio
import sys
from datetime import UTC, datetime

from runtime import db
from services.pins import csvfile
from services.pins.app import MIGRATIONS
from services.pins.context import SCHEMA
from services.pins.register import import_register
from tests.bench.common import Stopwatch, database, register_file


async def measure(dsn: str, n: int) -> dict[str, float]:
    first = register_file(n)
    later = register_file(n - n // 10, renamed=n // 10)
    watch = Stopwatch()
    assert not csvfile.parse(first).problems
    figures = {"check only": watch.lap()}
    pool = await db.create_pool(dsn, SCHEMA, MIGRATIONS, max_size=2)
    try:
        watch.lap()
        summary = await import_register(pool, first, datetime.now(UTC))
        figures["first import"] = watch.lap()
        assert summary.new == n
        summary = await import_register(pool, first, datetime.now(UTC))
        figures["unchanged re-import"] = watch.lap()
        assert summary.unchanged == n
        summary = await import_register(pool, later, datetime.now(UTC), full=True)
        figures["--full, 10% renamed, 10% gone"] = watch.lap()
        assert (summary.updated, summary.deleted) == (n // 10, n // 10)
    finally:
        await pool.close()
    return figures


async def main(n: int) -> None:
    async with database("bench_import") as dsn:
        figures = await measure(dsn, n)
    print(f"register import, {n:,} rows (Postgres with fsync)")
    for name, seconds in figures.items():
        print(f"  {name:32} {seconds:7.2f} s  ({n / seconds:9,.0f} rows/s)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000))
