"""The idempotent consumer's record: an event's work and its id commit together."""

from datetime import datetime

import asyncpg

from contracts import Event
from runtime.db import rows_affected


async def first_time(conn: asyncpg.Connection, event: Event, *, lock: str | None = None) -> bool:
    """Inside the handler's transaction: True if this service has not handled the event yet.
    `lock`: an advisory lock to take first, in the same round trip, held until commit (the
    statements after it read with snapshots from after it was granted)."""
    if lock is None:
        inserted = await conn.fetchval(
            "insert into processed_events (event_id, subject) values ($1, $2)"
            " on conflict (event_id) do nothing returning true",
            event.event_id,
            event.SUBJECT,
        )
    else:
        inserted = await conn.fetchval(
            "insert into processed_events (event_id, subject)"
            " select $1, $2 from (select pg_advisory_xact_lock(hashtext($3))) as locked"
            " on conflict (event_id) do nothing returning true",
            event.event_id,
            event.SUBJECT,
            lock,
        )
    return bool(inserted)


async def purge(conn: asyncpg.Connection, handled_before: datetime) -> int:
    """Forget the markers no redelivery or replay can still match (runtime.retention says when)."""
    result = await conn.execute("delete from processed_events where handled_at < $1", handled_before)
    return rows_affected(result)
