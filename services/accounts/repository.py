"""Every SQL statement of accounts, raw and parameterised, against the `accounts` schema."""

from datetime import date, datetime
from uuid import UUID

import asyncpg

USER_COLUMNS = "id, email, first_name, last_name, birth_date, state, created_at, repeat_notice_at"


async def user_by_email_for_update(conn: asyncpg.Connection, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"select {USER_COLUMNS} from users where email_key = $1 for update", key)


async def insert_pending_user(
    conn: asyncpg.Connection, user_id: UUID, email: str, key: str,
    first_name: str, last_name: str, birth_date: date, now: datetime,
) -> bool:
    """False when another request registered the same address a moment earlier."""
    inserted = await conn.fetchval(
        "insert into users (id, email, email_key, first_name, last_name, birth_date, state, created_at)"
        " values ($1, $2, $3, $4, $5, $6, 'pending', $7) on conflict (email_key) do nothing returning true",
        user_id, email, key, first_name, last_name, birth_date, now,
    )
    return bool(inserted)


async def update_pending_user(
    conn: asyncpg.Connection, user_id: UUID, email: str, first_name: str, last_name: str, birth_date: date
) -> None:
    await conn.execute(
        "update users set email = $2, first_name = $3, last_name = $4, birth_date = $5"
        " where id = $1 and state = 'pending'",
        user_id, email, first_name, last_name, birth_date,
    )


async def mark_repeat_notice(conn: asyncpg.Connection, user_id: UUID, now: datetime) -> None:
    await conn.execute("update users set repeat_notice_at = $2 where id = $1", user_id, now)


async def confirmations_since(conn: asyncpg.Connection, user_id: UUID, since: datetime) -> int:
    return await conn.fetchval(
        "select count(*) from confirmations where user_id = $1 and created_at > $2", user_id, since
    )


async def insert_confirmation(
    conn: asyncpg.Connection, token_hash: bytes, user_id: UUID, now: datetime, expires_at: datetime
) -> None:
    await conn.execute(
        "insert into confirmations (token_hash, user_id, created_at, expires_at) values ($1, $2, $3, $4)",
        token_hash, user_id, now, expires_at,
    )


async def confirmation(conn: asyncpg.Connection, token_hash: bytes, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "select c.user_id, c.expires_at, c.used_at, u.state, u.email, u.first_name, u.last_name"
        " from confirmations c join users u on u.id = c.user_id where c.token_hash = $1"
        + (" for update of c, u" if lock else ""),
        token_hash,
    )


async def activate_user(
    conn: asyncpg.Connection, user_id: UUID, password_hash: str, now: datetime, password_expires_at: datetime
) -> None:
    await conn.execute(
        "update users set state = 'active', confirmed_at = $2, password_hash = $3,"
        " password_is_initial = true, password_expires_at = $4 where id = $1",
        user_id, now, password_hash, password_expires_at,
    )
    await conn.execute(
        "update confirmations set used_at = $2 where user_id = $1 and used_at is null", user_id, now
    )
