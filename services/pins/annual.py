"""The yearly PIN issue: one letter for every active business, sent with the Beitragsbescheid.

Batches of 1,000 businesses, each one transaction: the PIN rows, the markers (year,
Betriebsnummer) and the outbox rows commit together. Interrupted, it resumes where it stopped;
run again, it issues nothing twice (the marker's primary key). The running pins service's outbox
relay publishes the letters to the print shop as they commit (woken by NOTIFY).

A business whose stored data no letter can carry (kept from before the import checked the
contract) is reported and skipped, and the run goes on. It gets no marker, so the run stays
unfinished: once the register is corrected, running it again issues exactly those.
"""

import logging
from dataclasses import dataclass, field

from services.pins import bulk, contract_fields
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
    skipped: list["Skipped"] = field(default_factory=list)


@dataclass(frozen=True)
class Skipped:
    betriebsnummer: str
    problems: list[str]  # German, as the import would have said them


async def issue(context: Context, year: int, *, batch: int = BATCH, stop_after: int | None = None) -> AnnualResult:
    """`stop_after` batches (tests: an interruption); None runs to the end."""
    pool, issued, batches, after, skipped = context.pool, 0, 0, "", []
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
                    businesses = await bulk.pending(conn, year, batch, after)
                    if not businesses:
                        break
                    after, letters = businesses[-1]["betriebsnummer"], []
                    for business in businesses:
                        if problems := contract_fields.business_problems(business):
                            skipped.append(_skip(year, business["betriebsnummer"], problems))
                        else:
                            letters.append(
                                new_letter(context, business, "annual_notice", None, now, context.annual_pin_valid.days)
                            )
                    if letters:
                        await insert_letters(conn, [letter.row for letter in letters])
                        await bulk.mark_issued(conn, [(year, letter.row[1], letter.row[0]) for letter in letters])
                        await emit_all(conn, [letter.event for letter in letters])
                issued, batches = issued + len(letters), batches + 1
                log.info("yearly pins issued", extra={"year": year, "issued": issued})
            else:
                return AnnualResult(year, issued, await bulk.issued(conn, year), False, skipped)
            if skipped:
                return AnnualResult(year, issued, await bulk.issued(conn, year), False, skipped)
            total = await bulk.finish_run(conn, year, context.clock())
            return AnnualResult(year, issued, total, False)
        finally:
            await conn.execute("select pg_advisory_unlock(hashtext($1))", f"pins:annual:{year}")


def _skip(year: int, number: str, problems: list[str]) -> Skipped:
    log.warning(
        "yearly pin skipped: the business's data fit no letter",
        extra={"year": year, "betriebsnummer": number, "problems": problems},
    )
    return Skipped(number, problems)
