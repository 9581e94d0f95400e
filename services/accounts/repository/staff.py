"""Staff accounts, their second factor, what staff see of a member, and the audit."""

from datetime import datetime
from uuid import UUID

import asyncpg

from runtime import staff_audit
from runtime.db import rows_affected


async def insert_staff_user(
    conn: asyncpg.Connection, user_id: UUID, email: str, key: str, first_name: str, last_name: str, now: datetime
) -> bool:
    """Confirmed at once and without a password: the setup link sets the first. False when the
    address has an account already."""
    inserted = await conn.fetchval(
        "insert into users (id, email, email_key, first_name, last_name, state, role, created_at, confirmed_at)"
        " values ($1, $2, $3, $4, $5, 'active', 'staff', $6, $6) on conflict (email_key) do nothing returning true",
        user_id,
        email,
        key,
        first_name,
        last_name,
        now,
    )
    return bool(inserted)


async def second_factor(conn: asyncpg.Connection, user_id: UUID, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "select secret, enrolled_at, last_step from second_factors where user_id = $1"
        + (" for update" if lock else ""),
        user_id,
    )


async def add_pending_secret(conn: asyncpg.Connection, user_id: UUID, secret: bytes) -> None:
    """A secret to confirm, unless the account has one already (pending or enrolled)."""
    await conn.execute(
        "insert into second_factors (user_id, secret) values ($1, $2) on conflict (user_id) do nothing",
        user_id,
        secret,
    )


async def use_step(conn: asyncpg.Connection, user_id: UUID, step: int, enrolled_at: datetime | None = None) -> None:
    await conn.execute(
        "update second_factors set last_step = $2, enrolled_at = coalesce(enrolled_at, $3) where user_id = $1",
        user_id,
        step,
        enrolled_at,
    )


async def insert_recovery_codes(conn: asyncpg.Connection, user_id: UUID, hashes: list[bytes]) -> None:
    await conn.execute("delete from recovery_codes where user_id = $1", user_id)
    await conn.executemany(
        "insert into recovery_codes (code_hash, user_id) values ($1, $2)", [(h, user_id) for h in hashes]
    )


async def use_recovery_code(conn: asyncpg.Connection, user_id: UUID, code_hash: bytes, now: datetime) -> bool:
    used = await conn.fetchval(
        "update recovery_codes set used_at = $3 where code_hash = $1 and user_id = $2 and used_at is null"
        " returning true",
        code_hash,
        user_id,
        now,
    )
    return bool(used)


async def lock_second_factor_attempts(conn: asyncpg.Connection, user_id: UUID) -> None:
    await conn.execute("select pg_advisory_xact_lock(hashtext($1))", f"accounts:second-factor:{user_id}")


async def second_factor_failures(conn: asyncpg.Connection, user_id: UUID, since: datetime) -> list[datetime]:
    rows = await conn.fetch(
        "select at from second_factor_failures where user_id = $1 and at > $2 order by at desc", user_id, since
    )
    return [r["at"] for r in rows]


async def add_second_factor_failure(conn: asyncpg.Connection, user_id: UUID, now: datetime) -> None:
    await conn.execute("insert into second_factor_failures (user_id, at) values ($1, $2)", user_id, now)


async def pass_second_factor(conn: asyncpg.Connection, session_id: UUID, now: datetime) -> None:
    await conn.execute("update sessions set second_factor_at = $2 where id = $1", session_id, now)


async def session_account(conn: asyncpg.Connection, session_id: UUID, user_id: UUID) -> asyncpg.Record | None:
    """What a staff route needs to know of the caller beyond the signed header: the account's role
    and whether this very session passed the second factor, as stored now."""
    return await conn.fetchrow(
        "select u.role, u.email, u.deactivated_at, s.second_factor_at, s.last_seen_at, s.expires_at"
        " from sessions s join users u on u.id = s.user_id where s.id = $1 and s.user_id = $2",
        session_id,
        user_id,
    )


MEMBER_COLUMNS = (
    "id, email, email_key, first_name, last_name, role, state, created_at, confirmed_at, last_login_at,"
    " deactivated_at, password_is_initial"
)


async def member_by_email(conn: asyncpg.Connection, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"select {MEMBER_COLUMNS} from users where email_key = $1", key)


async def member_by_id(conn: asyncpg.Connection, user_id: UUID, *, lock: bool = True) -> asyncpg.Record | None:
    """Locked: a staff action and a concurrent one on the same account take turns (a view needs no lock)."""
    return await conn.fetchrow(
        f"select {MEMBER_COLUMNS} from users where id = $1" + (" for update" if lock else ""), user_id
    )


async def failures_by_lane(conn: asyncpg.Connection, key: str, since: datetime) -> list[tuple[bytes | None, datetime]]:
    rows = await conn.fetch("select device, at from login_failures where account_key = $1 and at > $2", key, since)
    return [(r["device"], r["at"]) for r in rows]


async def reissue_initial_password(
    conn: asyncpg.Connection, user_id: UUID, password_hash: str, expires_at: datetime
) -> None:
    await conn.execute(
        "update users set password_hash = $2, password_is_initial = true, password_expires_at = $3 where id = $1",
        user_id,
        password_hash,
        expires_at,
    )


async def set_deactivated(conn: asyncpg.Connection, user_id: UUID, at: datetime | None) -> None:
    await conn.execute("update users set deactivated_at = $2 where id = $1", user_id, at)


async def staff_names(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("select id, first_name, last_name from users where role = 'staff' order by last_name")


async def purge_staff(conn: asyncpg.Connection, *, audit_before: datetime, failures_before: datetime) -> dict[str, int]:
    counts = {}
    counts["staff_audit"] = await staff_audit.purge(conn, audit_before)
    result = await conn.execute("delete from second_factor_failures where at < $1", failures_before)
    counts["second_factor_failures"] = rows_affected(result)
    return counts
