"""Passwords set, and reset links."""

from datetime import datetime
from uuid import UUID

import asyncpg


async def set_password(conn: asyncpg.Connection, user_id: UUID, password_hash: str, now: datetime) -> None:
    await conn.execute(
        "update users set password_hash = $2, password_is_initial = false, password_expires_at = null,"
        " password_changed_at = $3 where id = $1",
        user_id,
        password_hash,
        now,
    )


async def resets_since(conn: asyncpg.Connection, user_id: UUID, since: datetime) -> int:
    return await conn.fetchval(
        "select count(*) from password_resets where user_id = $1 and created_at > $2", user_id, since
    )


async def insert_reset(
    conn: asyncpg.Connection, token_hash: bytes, user_id: UUID, now: datetime, expires_at: datetime
) -> None:
    await conn.execute(
        "insert into password_resets (token_hash, user_id, created_at, expires_at) values ($1, $2, $3, $4)",
        token_hash,
        user_id,
        now,
        expires_at,
    )


async def reset(conn: asyncpg.Connection, token_hash: bytes, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "select r.user_id, r.expires_at, r.used_at, u.email, u.email_key, u.first_name, u.last_name"
        " from password_resets r join users u on u.id = r.user_id where r.token_hash = $1"
        + (" for update of r, u" if lock else ""),
        token_hash,
    )


async def use_resets(conn: asyncpg.Connection, user_id: UUID, now: datetime) -> None:
    await conn.execute("update password_resets set used_at = $2 where user_id = $1 and used_at is null", user_id, now)
