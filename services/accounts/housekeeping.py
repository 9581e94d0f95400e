"""Deleting what has expired: never-confirmed registrations, old sessions, failures, links."""

import asyncio
import logging

from services.accounts import repository as repo
from services.accounts.context import Context

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 600


async def run(context: Context) -> None:
    while True:
        try:
            now = context.clock()
            async with context.pool.acquire() as conn:
                counts = await repo.purge(
                    conn, now, now - context.lifetimes.unconfirmed, now - context.lifetimes.device
                )
            if any(counts.values()):
                log.info("expired records deleted", extra=counts)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the database away: next round
            log.warning("housekeeping failed", extra={"error": repr(error)})
        await asyncio.sleep(INTERVAL_SECONDS)
