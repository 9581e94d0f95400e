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


async def reserve_login(
    conn: asyncpg.Connection,
    key: str,
    client: str,
    device_hash: bytes | None,
    now: datetime,
    lane_since: datetime,
    lane_limit: int,
    client_since: datetime,
    client_limit: int,
) -> asyncpg.Record:
    """A login's first round trip: the user by `key` (its columns all null when there is none)
    and its check reserved as `reserve_attempt` does, in the lane of the browser's device cookie
    (`device_hash`) when an active account trusts it. `device`: that hash, or null when the
    check is not a trusted device's. The user is read before the locks are waited for, as a read
    of its own would be."""
    return await conn.fetchrow(
        "with u as ("
        " select id, email, first_name, last_name, state, password_hash, password_is_initial,"
        " password_expires_at, role, deactivated_at, state = 'active' and $3::bytea is not null and exists"
        " (select 1 from devices where token_hash = $3 and devices.user_id = users.id) as trusts"
        " from users where email_key = $1"
        "), d as (select $3::bytea as device from u where trusts)"
        " select u.id, u.email, u.first_name, u.last_name, u.state, u.password_hash, u.password_is_initial,"
        " u.password_expires_at, u.role, u.deactivated_at, (select device from d) as device,"
        " r.attempt, r.lane, r.address"
        " from reserve_attempt($1, $2, (select device from d), $4, $5, $6, $7, $8) as r left join u on true",
        key,
        client,
        device_hash,
        now,
        lane_since,
        lane_limit,
        client_since,
        client_limit,
    )


async def drop_attempt(db: asyncpg.Pool | asyncpg.Connection, attempt_id: int) -> None:
    await db.execute("delete from login_failures where id = $1", attempt_id)


async def clear_failures(conn: asyncpg.Connection, key: str) -> None:
    await conn.execute("delete from login_failures where account_key = $1", key)
