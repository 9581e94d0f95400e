"""Password checks reserved and counted for the throttle (services/accounts/throttle.py)."""

from datetime import datetime

import asyncpg


async def lock_attempts(conn: asyncpg.Connection, key: str, client: str) -> None:
    """Until the transaction ends, no other check of this account or from this address counts or
    reserves. Always the account first: two checks never wait for each other in a circle."""
    await conn.execute("select pg_advisory_xact_lock(hashtext($1))", f"accounts:attempts:{key}")
    await conn.execute("select pg_advisory_xact_lock(hashtext($1))", f"accounts:client:{client}")


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
    device, or every untrusted attempt), and the client address's."""
    lane = await conn.fetch(
        "select at from login_failures where account_key = $1 and device is not distinct from $2 and at > $3"
        " order by at desc limit $4",
        key,
        device,
        lane_since,
        lane_limit,
    )
    address = await conn.fetch(
        "select at from login_failures where client = $1 and at > $2 order by at desc limit $3",
        client,
        client_since,
        client_limit,
    )
    return [r["at"] for r in lane], [r["at"] for r in address]


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
