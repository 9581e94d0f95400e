"""Deleting failed link attempts once the throttle no longer looks at them, and the runtime's
tables (runtime.retention), on the service's clock. The README's retention table states them."""

import asyncio
import logging
from datetime import timedelta

from runtime import retention
from services.pins import repository as repo
from services.pins.context import Context

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 600

# The link throttle looks back one day (services.pins.throttle.DAY); one more for the doubt.
LINK_FAILURES = timedelta(days=2)


async def sweep(context: Context) -> dict[str, int]:
    """One round; what was deleted, by table."""
    now = context.clock()
    async with context.pool.acquire() as conn:
        counts = {"link_failures": await repo.purge(conn, now - LINK_FAILURES)}
        counts |= await retention.purge(conn, now)
    return counts


async def run(context: Context) -> None:
    while True:
        try:
            counts = await sweep(context)
            if any(counts.values()):
                log.info("expired records deleted", extra=counts)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the database away: next round
            log.warning("housekeeping failed", extra={"error": repr(error)})
        await asyncio.sleep(INTERVAL_SECONDS)
