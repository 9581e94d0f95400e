"""Every SQL statement of accounts, raw and parameterised, against the `accounts` schema."""

from datetime import date, datetime, timedelta
from uuid import UUID

import asyncpg

USER_COLUMNS = "id, email, first_name, last_name, birth_date, state, created_at, repeat_notice_at"


async def user_by_email_for_update(conn: asyncpg.Connection, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"select {USER_COLUMNS} from users where email_key = $1 for update", key)


async def insert_pending_user(
    conn: asyncpg.Connection,
    user_id: UUID,
    email: str,
    key: str,
    first_name: str,
    last_name: str,
    birth_date: date,
    now: datetime,
) -> bool:
    """False when another request registered the same address a moment earlier."""
    inserted = await conn.fetchval(
        "insert into users (id, email, email_key, first_name, last_name, birth_date, state, created_at)"
        " values ($1, $2, $3, $4, $5, $6, 'pending', $7) on conflict (email_key) do nothing returning true",
        user_id,
        email,
        key,
        first_name,
        last_name,
        birth_date,
        now,
    )
    return bool(inserted)


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
    return bool(
        await conn.fetchval("select true from devices where token_hash = $1 and user_id = $2", device_hash, user_id)
    )


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


async def insert_session(
    conn: asyncpg.Connection, session_id: UUID, token_hash: bytes, user_id: UUID, now: datetime, expires_at: datetime
) -> None:
    await conn.execute(
        "insert into sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at)"
        " values ($1, $2, $3, $4, $4, $5)",
        session_id,
        token_hash,
        user_id,
        now,
        expires_at,
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


async def add_membership(
    conn: asyncpg.Connection, user_id: UUID, betriebsnummer: str, business_name: str, linked_at: datetime
) -> None:
    await conn.execute(
        "insert into memberships (user_id, betriebsnummer, business_name, linked_at) values ($1, $2, $3, $4)"
        " on conflict (user_id, betriebsnummer) do update set business_name = excluded.business_name",
        user_id,
        betriebsnummer,
        business_name,
        linked_at,
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


# --- housekeeping ---------------------------------------------------------------------------


async def purge(
    conn: asyncpg.Connection, now: datetime, unconfirmed_before: datetime, device_unused_before: datetime
) -> dict[str, int]:
    counts = {}
    for name, sql, args in (
        ("unconfirmed_users", "delete from users where state = 'pending' and created_at < $1", (unconfirmed_before,)),
        ("sessions", "delete from sessions where expires_at < $1", (now,)),
        ("login_failures", "delete from login_failures where at < $1", (now - timedelta(days=1),)),
        ("password_resets", "delete from password_resets where expires_at < $1", (now - timedelta(days=7),)),
        (
            "confirmations",
            "delete from confirmations where expires_at < $1 and used_at is not null",
            (now - timedelta(days=7),),
        ),
        ("devices", "delete from devices where last_used_at < $1", (device_unused_before,)),
    ):
        result = await conn.execute(sql, *args)
        counts[name] = int(result.rsplit(" ", 1)[-1])
    return counts
