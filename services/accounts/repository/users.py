"""Registration, confirmation and the user rows."""

from datetime import date, datetime
from uuid import UUID

import asyncpg

USER_COLUMNS = "id, email, first_name, last_name, birth_date, state, created_at, repeat_notice_at"


async def user_by_email_for_update(conn: asyncpg.Connection, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"select {USER_COLUMNS} from users where email_key = $1 for update", key)


# A new pending user and their first confirmation link, as CTEs to write with the event that
# reports them (context.emit_with): the link, and so the event, only when the address was new.
# Parameters from $7: id, email, email key, first name, last name, birth date, now, link hash, expiry.
NEW_USER = (
    "new_user as (insert into users (id, email, email_key, first_name, last_name, birth_date, state, created_at)"
    " values ($7, $8, $9, $10, $11, $12, 'pending', $13) on conflict (email_key) do nothing returning id),"
    " new_link as (insert into confirmations"
    " (token_hash, user_id, created_at, expires_at, first_name, last_name, birth_date)"
    " select $14, id, $13, $15, $10, $11, $12 from new_user returning user_id)"
)
NEW_USER_WRITTEN = "new_link"


async def mark_repeat_notice(conn: asyncpg.Connection, user_id: UUID, now: datetime) -> None:
    await conn.execute("update users set repeat_notice_at = $2 where id = $1", user_id, now)


async def confirmations_since(conn: asyncpg.Connection, user_id: UUID, since: datetime) -> int:
    return await conn.fetchval(
        "select count(*) from confirmations where user_id = $1 and created_at > $2", user_id, since
    )


async def insert_confirmation(
    conn: asyncpg.Connection,
    token_hash: bytes,
    user_id: UUID,
    now: datetime,
    expires_at: datetime,
    first_name: str,
    last_name: str,
    birth_date: date,
) -> None:
    """The link carries the person entered with its registration (migration 0003)."""
    await conn.execute(
        "insert into confirmations (token_hash, user_id, created_at, expires_at, first_name, last_name, birth_date)"
        " values ($1, $2, $3, $4, $5, $6, $7)",
        token_hash,
        user_id,
        now,
        expires_at,
        first_name,
        last_name,
        birth_date,
    )


async def last_registration(conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record:
    """What was entered last for a pending user: the newest link's person, else the user row's."""
    return await conn.fetchrow(
        "select u.email, coalesce(c.first_name, u.first_name) as first_name,"
        " coalesce(c.last_name, u.last_name) as last_name, coalesce(c.birth_date, u.birth_date) as birth_date"
        " from users u left join lateral (select first_name, last_name, birth_date from confirmations"
        "  where user_id = u.id and first_name is not null order by created_at desc limit 1) c on true"
        " where u.id = $1",
        user_id,
    )


async def confirmation(conn: asyncpg.Connection, token_hash: bytes, *, lock: bool = False) -> asyncpg.Record | None:
    """The link and the person it confirms (a link from before migration 0003: the user row's)."""
    return await conn.fetchrow(
        "select c.user_id, c.expires_at, c.used_at, u.state, u.email,"
        " coalesce(c.first_name, u.first_name) as first_name, coalesce(c.last_name, u.last_name) as last_name,"
        " coalesce(c.birth_date, u.birth_date) as birth_date"
        " from confirmations c join users u on u.id = c.user_id where c.token_hash = $1"
        + (" for update of c, u" if lock else ""),
        token_hash,
    )


async def activate_user(
    conn: asyncpg.Connection,
    user_id: UUID,
    password_hash: str,
    now: datetime,
    password_expires_at: datetime,
    first_name: str,
    last_name: str,
    birth_date: date,
) -> None:
    await conn.execute(
        "update users set state = 'active', confirmed_at = $2, password_hash = $3,"
        " password_is_initial = true, password_expires_at = $4, first_name = $5, last_name = $6, birth_date = $7"
        " where id = $1",
        user_id,
        now,
        password_hash,
        password_expires_at,
        first_name,
        last_name,
        birth_date,
    )
    await conn.execute("update confirmations set used_at = $2 where user_id = $1 and used_at is null", user_id, now)


async def user_by_id(conn: asyncpg.Connection, user_id: UUID, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "select id, email, email_key, first_name, last_name, state, password_hash, password_is_initial, role"
        " from users where id = $1" + (" for update" if lock else ""),
        user_id,
    )
