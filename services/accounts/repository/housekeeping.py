"""What expires, deleted."""

from datetime import datetime, timedelta

import asyncpg


async def purge(
    conn: asyncpg.Connection, now: datetime, unconfirmed_before: datetime, device_unused_before: datetime
) -> dict[str, int]:
    counts = {}
    for name, sql, args in (
        ("unconfirmed_users", "delete from users where state = 'pending' and created_at < $1", (unconfirmed_before,)),
        ("sessions", "delete from sessions where expires_at < $1", (now,)),
        ("login_failures", "delete from login_failures where at < $1", (now - timedelta(days=1),)),
        ("password_resets", "delete from password_resets where expires_at < $1", (now - timedelta(days=7),)),
        (
            "confirmations",
            "delete from confirmations where expires_at < $1 and used_at is not null",
            (now - timedelta(days=7),),
        ),
        ("devices", "delete from devices where last_used_at < $1", (device_unused_before,)),
    ):
        result = await conn.execute(sql, *args)
        counts[name] = int(result.rsplit(" ", 1)[-1])
    return counts
