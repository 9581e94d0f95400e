"""Every SQL statement of accounts, raw and parameterised, against the `accounts` schema."""

from datetime import date, datetime, timedelta
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


# --- login, sessions, devices, throttling -------------------------------------------------

async def user_for_login(conn: asyncpg.Connection, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "select id, email, first_name, last_name, state, password_hash, password_is_initial,"
        " password_expires_at from users where email_key = $1",
        key,
    )


async def user_by_id(conn: asyncpg.Connection, user_id: UUID, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "select id, email, email_key, first_name, last_name, state, password_hash, password_is_initial"
        " from users where id = $1" + (" for update" if lock else ""),
        user_id,
    )


async def device_trusted(conn: asyncpg.Connection, device_hash: bytes, user_id: UUID) -> bool:
    return bool(await conn.fetchval(
        "select true from devices where token_hash = $1 and user_id = $2", device_hash, user_id
    ))


async def recent_failures(
    conn: asyncpg.Connection, key: str, client: str, device: bytes | None, since: datetime
) -> tuple[list[datetime], list[datetime]]:
    """Newest first: the account's failures (from this trusted device, or from anywhere else),
    and the client address's."""
    account = await conn.fetch(
        "select at from login_failures where account_key = $1 and at > $2"
        " and device is not distinct from $3 order by at desc limit 20",
        key, since, device,
    )
    address = await conn.fetch(
        "select at from login_failures where client = $1 and at > $2 order by at desc limit 20",
        client, since,
    )
    return [r["at"] for r in account], [r["at"] for r in address]


async def record_failure(pool: asyncpg.Pool, key: str, client: str, device: bytes | None, now: datetime) -> None:
    await pool.execute(
        "insert into login_failures (account_key, client, device, at) values ($1, $2, $3, $4)",
        key, client, device, now,
    )


async def clear_failures(conn: asyncpg.Connection, key: str) -> None:
    await conn.execute("delete from login_failures where account_key = $1", key)


async def insert_session(
    conn: asyncpg.Connection, session_id: UUID, token_hash: bytes, user_id: UUID, now: datetime, expires_at: datetime
) -> None:
    await conn.execute(
        "insert into sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at)"
        " values ($1, $2, $3, $4, $4, $5)",
        session_id, token_hash, user_id, now, expires_at,
    )


async def session_by_token(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "select s.id, s.user_id, s.created_at, s.last_seen_at, s.expires_at, u.password_is_initial"
        " from sessions s join users u on u.id = s.user_id where s.token_hash = $1",
        token_hash,
    )


async def session_times(conn: asyncpg.Connection, session_id: UUID, user_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "select last_seen_at, expires_at from sessions where id = $1 and user_id = $2", session_id, user_id
    )


async def touch_session(conn: asyncpg.Connection, session_id: UUID, now: datetime) -> None:
    await conn.execute("update sessions set last_seen_at = $2 where id = $1", session_id, now)


async def delete_session(conn: asyncpg.Connection, session_id: UUID, user_id: UUID | None = None) -> bool:
    deleted = await conn.fetchval(
        "delete from sessions where id = $1 and ($2::uuid is null or user_id = $2) returning true",
        session_id, user_id,
    )
    return bool(deleted)


async def delete_sessions_of(conn: asyncpg.Connection, user_id: UUID, keep: UUID | None = None) -> None:
    await conn.execute(
        "delete from sessions where user_id = $1 and id is distinct from $2", user_id, keep
    )


async def save_device(conn: asyncpg.Connection, token_hash: bytes, user_id: UUID, now: datetime) -> None:
    await conn.execute(
        "insert into devices (token_hash, user_id, created_at, last_used_at) values ($1, $2, $3, $3)"
        " on conflict (token_hash) do update set last_used_at = $3",
        token_hash, user_id, now,
    )


async def add_membership(
    conn: asyncpg.Connection, user_id: UUID, betriebsnummer: str, business_name: str, linked_at: datetime
) -> None:
    await conn.execute(
        "insert into memberships (user_id, betriebsnummer, business_name, linked_at) values ($1, $2, $3, $4)"
        " on conflict (user_id, betriebsnummer) do update set business_name = excluded.business_name",
        user_id, betriebsnummer, business_name, linked_at,
    )


async def memberships(conn: asyncpg.Connection, user_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "select betriebsnummer, business_name, linked_at from memberships where user_id = $1 order by linked_at",
        user_id,
    )


# --- passwords ------------------------------------------------------------------------------

async def set_password(conn: asyncpg.Connection, user_id: UUID, password_hash: str, now: datetime) -> None:
    await conn.execute(
        "update users set password_hash = $2, password_is_initial = false, password_expires_at = null,"
        " password_changed_at = $3 where id = $1",
        user_id, password_hash, now,
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
        token_hash, user_id, now, expires_at,
    )


async def reset(conn: asyncpg.Connection, token_hash: bytes, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "select r.user_id, r.expires_at, r.used_at, u.email, u.email_key, u.first_name, u.last_name"
        " from password_resets r join users u on u.id = r.user_id where r.token_hash = $1"
        + (" for update of r, u" if lock else ""),
        token_hash,
    )


async def use_resets(conn: asyncpg.Connection, user_id: UUID, now: datetime) -> None:
    await conn.execute(
        "update password_resets set used_at = $2 where user_id = $1 and used_at is null", user_id, now
    )


# --- housekeeping ---------------------------------------------------------------------------

async def purge(conn: asyncpg.Connection, now: datetime, unconfirmed_before: datetime, device_unused_before: datetime) -> dict[str, int]:
    counts = {}
    for name, sql, args in (
        ("unconfirmed_users", "delete from users where state = 'pending' and created_at < $1", (unconfirmed_before,)),
        ("sessions", "delete from sessions where expires_at < $1", (now,)),
        ("login_failures", "delete from login_failures where at < $1", (now - timedelta(days=1),)),
        ("password_resets", "delete from password_resets where expires_at < $1", (now - timedelta(days=7),)),
        ("confirmations", "delete from confirmations where expires_at < $1 and used_at is not null", (now - timedelta(days=7),)),
        ("devices", "delete from devices where last_used_at < $1", (device_unused_before,)),
    ):
        result = await conn.execute(sql, *args)
        counts[name] = int(result.rsplit(" ", 1)[-1])
    return counts
