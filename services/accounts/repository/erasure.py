"""What accounts holds about one member: read for the export, erased for "Konto löschen"."""

from uuid import UUID

import asyncpg

from runtime import deadletters


async def export_user(conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "select email, email_key, first_name, last_name, birth_date, state, created_at, confirmed_at,"
        " password_changed_at, password_expires_at from users where id = $1",
        user_id,
    )


async def export_sessions(conn: asyncpg.Connection, user_id: UUID) -> list[asyncpg.Record]:
    # never the token hashes: they are the keys to the sessions, not data about the person
    return await conn.fetch(
        "select id, created_at, last_seen_at, expires_at from sessions where user_id = $1 order by created_at",
        user_id,
    )


async def count_devices(conn: asyncpg.Connection, user_id: UUID) -> int:
    return await conn.fetchval("select count(*) from devices where user_id = $1", user_id)


async def failure_times(conn: asyncpg.Connection, email_key: str) -> list[asyncpg.Record]:
    return await conn.fetch("select at from login_failures where account_key = $1 order by at", email_key)


async def erase_user(conn: asyncpg.Connection, user_id: UUID, email_key: str) -> None:
    """The user row takes its confirmations, sessions, resets, devices and memberships with it
    (on delete cascade); failed attempts are counted by address, and the outbox still holds the
    events that named the person (published or not): they go too, the person is to be gone; so
    does what the messages accounts gave up on say of them (runtime.deadletters.forget_person)."""
    await conn.execute("delete from users where id = $1", user_id)
    await deadletters.forget_person(conn, user_id)
    await conn.execute("delete from login_failures where account_key = $1", email_key)
    await conn.execute("delete from outbox where aggregate_key = $1", f"user:{user_id}")
