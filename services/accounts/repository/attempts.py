"""Password checks reserved and counted for the throttle (services/accounts/throttle.py)."""

from datetime import datetime

import asyncpg


async def lock_attempts(conn: asyncpg.Connection, key: str, client: str) -> None:
    """Until the transaction ends, no other check of this account or from this address counts or
    reserves. Always the account first (the rows of unnest come in the array's order, and each
    takes its lock as it comes): two checks never wait for each other in a circle."""
    await conn.execute(
        "select pg_advisory_xact_lock(hashtext(name)) from unnest($1::text[]) as name",
        [f"accounts:attempts:{key}", f"accounts:client:{client}"],
    )


async def recent_attempts(
    conn: asyncpg.Connection,
    key: str,
    device: bytes | None,
    client: str,
    lane_since: datetime,
    lane_limit: int,
    client_since: datetime,
    client_limit: int,
) -> tuple[list[datetime], list[datetime]]:
    """Newest first, failures and checks under way alike: the account's in this lane (this trusted
    device, or every untrusted attempt), and the client address's (one round trip for both)."""
    row = await conn.fetchrow(
        "select array(select at from login_failures where account_key = $1 and device is not distinct from $2"
        " and at > $3 order by at desc limit $4) as lane,"
        " array(select at from login_failures where client = $5 and at > $6 order by at desc limit $7) as address",
        key,
        device,
        lane_since,
        lane_limit,
        client,
        client_since,
        client_limit,
    )
    return list(row["lane"]), list(row["address"])


async def reserve_attempt(conn: asyncpg.Connection, key: str, client: str, device: bytes | None, now: datetime) -> int:
    """The row counts as a failure from now on; a right password deletes it (`drop_attempt`)."""
    return await conn.fetchval(
        "insert into login_failures (account_key, client, device, at) values ($1, $2, $3, $4) returning id",
        key,
        client,
        device,
        now,
    )


async def drop_attempt(pool: asyncpg.Pool, attempt_id: int) -> None:
    await pool.execute("delete from login_failures where id = $1", attempt_id)


async def clear_failures(conn: asyncpg.Connection, key: str) -> None:
    await conn.execute("delete from login_failures where account_key = $1", key)
