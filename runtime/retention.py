"""How long the tables every service shares keep their rows, and the purge each service's
housekeeping runs over them on the service's own clock. The README's retention table states
these numbers; tests/unit/test_retention_table.py holds the two together.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import asyncpg

from contracts import STREAMS
from contracts.durables import REDELIVERY
from runtime import deadletters, inbox, outbox

# A marker must outlive every way its event can come back: a redelivery while the stream holds
# the message (30 days from its publication), and an operator's `outbox replay` of a row the
# producer still keeps (another 30 days), which puts it into the stream anew.
PROCESSED_EVENTS = 2 * outbox.KEEP_PUBLISHED
# As long as the longest-lived stream keeps its events, so `outbox replay` can give them back.
PUBLISHED_OUTBOX = outbox.KEEP_PUBLISHED
# An erased person's tombstone (a user id, when) must outlive every user event published before
# the erasure that could still arrive: the stream keeps it (contracts.STREAMS, 30 days), and one
# in flight at that moment may be offered again for the whole redelivery schedule (about 15.4
# hours). Rounded up to whole days: 31. Pins and notifications keep theirs this long.
_LATE_EVENT = timedelta(days=max(s["max_age_days"] for s in STREAMS.values())) + timedelta(
    seconds=sum(REDELIVERY.backoff)
)
TOMBSTONES = timedelta(days=_LATE_EVENT.days + (1 if _LATE_EVENT % timedelta(days=1) else 0))
# Staff actions are kept three years (the regular limitation period, § 195 BGB), then swept; a
# trigger in each service's schema refuses every earlier delete and every update.
STAFF_AUDIT = timedelta(days=3 * 365 + 1)
# A dead letter an operator closed is the evidence of what happened for a quarter's review of
# incidents; an open one is never deleted: it is an event not yet handled.
RESOLVED_DEAD_LETTERS = timedelta(days=90)


async def purge(conn: asyncpg.Connection, now: datetime) -> dict[str, int]:
    return {
        "processed_events": await inbox.purge(conn, now - PROCESSED_EVENTS),
        "published_outbox": await outbox.purge_published(conn, now - PUBLISHED_OUTBOX),
        "resolved_dead_letters": await deadletters.purge_resolved(conn, now - RESOLVED_DEAD_LETTERS),
    }


log = logging.getLogger(__name__)

INTERVAL_SECONDS = 600  # how often a service sweeps: lifetimes are days, ten minutes is plenty


async def every_interval(sweep: Callable[[], Awaitable[dict[str, int]]]) -> None:
    """A service's housekeeping loop: sweep, say what went, outlive a database away."""
    while True:
        try:
            counts = await sweep()
            if any(counts.values()):
                log.info("expired records deleted", extra=counts)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the database away: next round
            log.warning("housekeeping failed", extra={"error": repr(error)})
        await asyncio.sleep(INTERVAL_SECONDS)
