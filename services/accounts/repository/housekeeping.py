"""What expires, deleted."""

from datetime import datetime

import asyncpg

from runtime.db import rows_affected


async def purge(
    conn: asyncpg.Connection,
    now: datetime,
    *,
    unconfirmed_before: datetime,
    device_unused_before: datetime,
    failures_before: datetime,
    links_expired_before: datetime,
) -> dict[str, int]:
    counts = {}
    for name, sql, args in (
        ("unconfirmed_users", "delete from users where state = 'pending' and created_at < $1", (unconfirmed_before,)),
        ("sessions", "delete from sessions where expires_at < $1", (now,)),
        ("login_failures", "delete from login_failures where at < $1", (failures_before,)),
        ("password_resets", "delete from password_resets where expires_at < $1", (links_expired_before,)),
        # A pending member's unused link stays with the registration (a late click learns it
        # expired); once the member is confirmed, an unused one is as spent as a used one.
        (
            "confirmations",
            "delete from confirmations c where expires_at < $1 and (used_at is not null"
            " or exists (select 1 from users u where u.id = c.user_id and u.state <> 'pending'))",
            (links_expired_before,),
        ),
        ("devices", "delete from devices where last_used_at < $1", (device_unused_before,)),
    ):
        result = await conn.execute(sql, *args)
        counts[name] = rows_affected(result)
    return counts
