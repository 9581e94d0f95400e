"""Password checks reserved and counted for the throttle (services/accounts/throttle.py)."""

from datetime import datetime

import asyncpg


async def reserve_attempt(
    conn: asyncpg.Connection,
    key: str,
    client: str,
    device: bytes | None,
    now: datetime,
    lane_since: datetime,
    lane_limit: int,
    client_since: datetime,
    client_limit: int,
) -> tuple[int, list[datetime], list[datetime]]:
    """Reserve a check under the account's and the address's locks, in one round trip
    (migration 0005): the new row's id, which counts as a failure from now on, and what was there
    before it, newest first, failures and checks under way alike: the account's in this lane (this
    trusted device, or every untrusted attempt), and the client address's. Not within a
    transaction of the caller's: the locks are held until the statement's own commit."""
    row = await conn.fetchrow(
        "select attempt, lane, address from reserve_attempt($1, $2, $3, $4, $5, $6, $7, $8)",
        key,
        client,
        device,
        now,
        lane_since,
        lane_limit,
        client_since,
        client_limit,
    )
    return row["attempt"], list(row["lane"]), list(row["address"])


async def drop_attempt(db: asyncpg.Pool | asyncpg.Connection, attempt_id: int) -> None:
    await db.execute("delete from login_failures where id = $1", attempt_id)


async def clear_failures(conn: asyncpg.Connection, key: str) -> None:
    await conn.execute("delete from login_failures where account_key = $1", key)
