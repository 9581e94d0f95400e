"""Deleting failed link attempts once the throttle no longer looks at them, and the runtime's
tables (runtime.retention), on the service's clock. The README's retention table states them."""

import logging
from datetime import timedelta

from runtime import retention
from services.pins import audit
from services.pins import repository as repo
from services.pins.context import Context

log = logging.getLogger(__name__)

# The link throttle looks back one day (services.pins.throttle.DAY); one more for the doubt.
LINK_FAILURES = timedelta(days=2)
# See runtime.retention: as long as a user.confirmed.v1 from before an erasure may still arrive.
TOMBSTONES = retention.TOMBSTONES


async def sweep(context: Context) -> dict[str, int]:
    """One round; what was deleted, by table."""
    now = context.clock()
    async with context.pool.acquire() as conn:
        counts = {
            "link_failures": await repo.purge(conn, now - LINK_FAILURES),
            "member_tombstones": await repo.purge_tombstones(conn, now - TOMBSTONES),
            "staff_audit": await audit.purge(conn, now),
        }
        counts |= await retention.purge(conn, now)
    return counts


async def run(context: Context) -> None:
    await retention.every_interval(lambda: sweep(context))
