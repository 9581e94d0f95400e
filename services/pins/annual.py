"""The yearly PIN issue: one letter for every active business, sent with the Beitragsbescheid.

Batches of 1,000 businesses, each one transaction: the PIN rows, the markers (year,
Betriebsnummer) and the outbox rows commit together. Interrupted, it resumes where it stopped;
run again, it issues nothing twice (the marker's primary key). The running pins service's outbox
relay publishes the letters to the print shop as they commit (woken by NOTIFY).
"""

import logging
from dataclasses import dataclass

from services.pins import bulk
from services.pins.context import Context, emit_all
from services.pins.letters import new_letter
from services.pins.repository import insert_letters

log = logging.getLogger(__name__)
BATCH = 1000


@dataclass(frozen=True)
class AnnualResult:
    year: int
    issued_now: int
    issued_total: int
    already_finished: bool


async def issue(context: Context, year: int, *, batch: int = BATCH, stop_after: int | None = None) -> AnnualResult:
    """`stop_after` batches (tests: an interruption); None runs to the end."""
    pool, issued, batches = context.pool, 0, 0
    async with pool.acquire() as conn:
        if not await conn.fetchval("select pg_try_advisory_lock(hashtext($1))", f"pins:annual:{year}"):
            raise RuntimeError(f"the yearly issue {year} is running elsewhere")
        try:
            if (finished := await bulk.start_run(conn, year, context.clock())) is not None:
                total = await bulk.finish_run(conn, year, finished)
                return AnnualResult(year, 0, total, True)
            while stop_after is None or batches < stop_after:
                async with conn.transaction():
                    now = context.clock()
                    businesses = await bulk.pending(conn, year, batch)
                    if not businesses:
                        break
                    letters = [new_letter(context, b, "annual_notice", None, now, context.annual_pin_valid.days)
                               for b in businesses]
                    await insert_letters(conn, [letter.row for letter in letters])
                    await bulk.mark_issued(conn, [(year, letter.row[1], letter.row[0]) for letter in letters])
                    await emit_all(conn, [letter.event for letter in letters])
                issued, batches = issued + len(businesses), batches + 1
                log.info("yearly pins issued", extra={"year": year, "issued": issued})
            else:
                return AnnualResult(year, issued, await bulk.issued(conn, year), False)
            total = await bulk.finish_run(conn, year, context.clock())
            return AnnualResult(year, issued, total, False)
        finally:
            await conn.execute("select pg_advisory_unlock(hashtext($1))", f"pins:annual:{year}")
