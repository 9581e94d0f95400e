"""Sessions and the devices an account trusts."""

from datetime import datetime
from uuid import UUID

import asyncpg


async def device_trusted(conn: asyncpg.Connection, device_hash: bytes, user_id: UUID) -> bool:
    return bool(
        await conn.fetchval("select true from devices where token_hash = $1 and user_id = $2", device_hash, user_id)
    )


async def start_session(
    conn: asyncpg.Connection,
    session_id: UUID,
    token_hash: bytes,
    device_hash: bytes,
    user_id: UUID,
    now: datetime,
    expires_at: datetime,
    attempt: int | None = None,
) -> None:
    """The session, the device it came from (trusted from now on), the user's last login and the
    end of the login's reservation (`attempt`: a right password is no failure), in one statement:
    one round trip and its own transaction instead of six (issue 12)."""
    await conn.execute(
        "with session as ("
        " insert into sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at)"
        " values ($1, $2, $4, $5, $5, $6)"
        "), device as ("
        " insert into devices (token_hash, user_id, created_at, last_used_at) values ($3, $4, $5, $5)"
        " on conflict (token_hash) do update set last_used_at = $5"
        "), reservation as (delete from login_failures where id = $7"
        ") update users set last_login_at = $5 where id = $4",
        session_id,
        token_hash,
        device_hash,
        user_id,
        now,
        expires_at,
        attempt,
    )


async def session_by_token(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "select s.id, s.user_id, s.created_at, s.last_seen_at, s.expires_at, s.second_factor_at,"
        " u.password_is_initial, u.role from sessions s join users u on u.id = s.user_id where s.token_hash = $1",
        token_hash,
    )


async def session_times(conn: asyncpg.Connection, session_id: UUID, user_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "select s.last_seen_at, s.expires_at, u.role from sessions s join users u on u.id = s.user_id"
        " where s.id = $1 and s.user_id = $2",
        session_id,
        user_id,
    )


async def profile_in_session(conn: asyncpg.Connection, session_id: UUID, user_id: UUID) -> asyncpg.Record | None:
    """The session's times and its user's profile with the memberships, in one round trip: the
    portal's most frequent call (GET /me) asks for nothing else."""
    return await conn.fetchrow(
        "select s.last_seen_at, s.expires_at, u.role, u.id, u.email, u.first_name, u.last_name,"
        " u.password_is_initial, array(select (m.betriebsnummer, m.business_name, m.linked_at) from memberships m"
        " where m.user_id = u.id order by m.linked_at) as memberships"
        " from sessions s join users u on u.id = s.user_id where s.id = $1 and s.user_id = $2",
        session_id,
        user_id,
    )


async def touch_session(conn: asyncpg.Connection, session_id: UUID, now: datetime) -> None:
    await conn.execute("update sessions set last_seen_at = $2 where id = $1", session_id, now)


async def delete_session(conn: asyncpg.Connection, session_id: UUID, user_id: UUID | None = None) -> bool:
    deleted = await conn.fetchval(
        "delete from sessions where id = $1 and ($2::uuid is null or user_id = $2) returning true",
        session_id,
        user_id,
    )
    return bool(deleted)


async def delete_sessions_of(conn: asyncpg.Connection, user_id: UUID, keep: UUID | None = None) -> None:
    await conn.execute("delete from sessions where user_id = $1 and id is distinct from $2", user_id, keep)


async def delete_sessions_started_before(conn: asyncpg.Connection, user_id: UUID, moment: datetime) -> list[UUID]:
    """To the millisecond, as pins compares a session's start with a link (the identity header
    carries milliseconds): a session begun in the link's millisecond or later stays."""
    rows = await conn.fetch(
        "delete from sessions where user_id = $1"
        " and date_trunc('milliseconds', created_at) < date_trunc('milliseconds', $2::timestamptz) returning id",
        user_id,
        moment,
    )
    return [row["id"] for row in rows]


async def save_device(conn: asyncpg.Connection, token_hash: bytes, user_id: UUID, now: datetime) -> None:
    await conn.execute(
        "insert into devices (token_hash, user_id, created_at, last_used_at) values ($1, $2, $3, $3)"
        " on conflict (token_hash) do update set last_used_at = $3",
        token_hash,
        user_id,
        now,
    )
