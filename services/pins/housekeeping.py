"""Deleting failed link attempts older than the throttle looks back (two days)."""

import asyncio
import logging

from services.pins import repository as repo
from services.pins.context import Context

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 600


async def run(context: Context) -> None:
    while True:
        try:
            async with context.pool.acquire() as conn:
                deleted = await repo.purge(conn, context.clock())
            if deleted:
                log.info("old link failures deleted", extra={"link_failures": deleted})
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the database away: next round
            log.warning("housekeeping failed", extra={"error": repr(error)})
        await asyncio.sleep(INTERVAL_SECONDS)
