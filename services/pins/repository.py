"""Every SQL statement of pins, raw and parameterised, against the `pins` schema."""

from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from runtime.db import rows_affected
from services.pins.throttle import Failures, LinkLimits

BUSINESS = "betriebsnummer, name, street, postal_code, city, email, trade"
# A letter's event carries the letter's id as its event id: once no unpublished outbox row is
# left for it, JetStream has it, and the print shop will print it (purged rows were published).
LETTER = (
    "l.id, l.betriebsnummer, l.reason, l.created_at, l.valid_until, l.used_at, l.superseded_at,"
    " not exists (select 1 from outbox o where o.event_id = l.id and o.published_at is null) as handed_over"
)


async def business(conn: asyncpg.Connection, number: str, *, lock: bool = False) -> asyncpg.Record | None:
    """An active business of the register (None for an unknown or deleted one)."""
    return await conn.fetchrow(
        f"select {BUSINESS} from businesses where betriebsnummer = $1 and deleted_at is null"
        + (" for update" if lock else ""),
        number,
    )


async def business_of_record(conn: asyncpg.Connection, number: str, *, lock: bool = False) -> asyncpg.Record | None:
    """A business of the register, deleted ones too, as the staff see it."""
    return await conn.fetchrow(
        f"select {BUSINESS}, deleted_at, imported_at, updated_at from businesses where betriebsnummer = $1"
        + (" for update" if lock else ""),
        number,
    )


# --- letters --------------------------------------------------------------------------------


async def requests_since(
    conn: asyncpg.Connection, since: datetime, *, number: str | None = None, user_id: UUID | None = None
) -> list[datetime]:
    """When letters on request were asked for, newest first: for a business or by a member."""
    rows = await conn.fetch(
        "select created_at from pin_letters where reason = 'user_request' and created_at > $1"
        " and ($2::text is null or betriebsnummer = $2) and ($3::uuid is null or requested_by = $3)"
        " order by created_at desc limit 50",
        since,
        number,
        user_id,
    )
    return [r["created_at"] for r in rows]


async def insert_letters(conn: asyncpg.Connection, rows: list[tuple]) -> None:
    """rows: (id, betriebsnummer, reason, requested_by, pin_hash, created_at, valid_until)."""
    await conn.copy_records_to_table(
        "pin_letters",
        records=rows,
        columns=["id", "betriebsnummer", "reason", "requested_by", "pin_hash", "created_at", "valid_until"],
    )


async def letters_requested_by(conn: asyncpg.Connection, user_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"select {LETTER} from pin_letters l where l.requested_by = $1 order by l.created_at desc limit 50",
        user_id,
    )


async def letters_of(conn: asyncpg.Connection, numbers: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"select * from (select {LETTER}, row_number() over (partition by l.betriebsnummer"
        " order by l.created_at desc) as n from pin_letters l where l.betriebsnummer = any($1::text[])) x"
        " where n <= 20 order by created_at desc",
        numbers,
    )


async def every_letter_of(conn: asyncpg.Connection, number: str) -> list[asyncpg.Record]:
    """A business's letters for the staff, newest first (a yearly letter each year: 500 is decades)."""
    return await conn.fetch(
        f"select {LETTER} from pin_letters l where l.betriebsnummer = $1 order by l.created_at desc limit 500",
        number,
    )


async def letters_by_pin(conn: asyncpg.Connection, number: str, pin_hash: bytes) -> list[asyncpg.Record]:
    """Letters of an active business with this PIN, locked; the usable one first."""
    return await conn.fetch(
        f"select {LETTER} from pin_letters l join businesses b using (betriebsnummer)"
        " where l.betriebsnummer = $1 and l.pin_hash = $2 and b.deleted_at is null"
        " order by l.used_at nulls first, l.valid_until desc for update of l",
        number,
        pin_hash,
    )


async def use_letter(conn: asyncpg.Connection, letter_id: UUID, user_id: UUID, now: datetime) -> None:
    await conn.execute("update pin_letters set used_at = $2, used_by = $3 where id = $1", letter_id, now, user_id)


async def supersede_requests(conn: asyncpg.Connection, user_id: UUID, number: str, now: datetime) -> None:
    """The member's other open requests for this business are of no use to them any more."""
    await conn.execute(
        "update pin_letters set superseded_at = $3 where requested_by = $1 and betriebsnummer = $2"
        " and used_at is null and superseded_at is null and valid_until > $3",
        user_id,
        number,
        now,
    )


# --- links and failures ---------------------------------------------------------------------


async def is_linked(conn: asyncpg.Connection, user_id: UUID, number: str) -> bool:
    return bool(
        await conn.fetchval("select true from links where user_id = $1 and betriebsnummer = $2", user_id, number)
    )


async def insert_link(conn: asyncpg.Connection, user_id: UUID, number: str, now: datetime, letter_id: UUID) -> bool:
    return bool(
        await conn.fetchval(
            "insert into links (user_id, betriebsnummer, linked_at, letter_id) values ($1, $2, $3, $4)"
            " on conflict do nothing returning true",
            user_id,
            number,
            now,
            letter_id,
        )
    )


async def lock_attempts(conn: asyncpg.Connection, keys: list[str]) -> None:
    """Serialise the attempts that share a member, a client address or a business, until commit.
    Taken in one order (by hash) by everyone, so two attempts never wait on each other in a circle."""
    await conn.execute(
        "select count(pg_advisory_xact_lock(h))"
        " from (select distinct hashtext(k) as h from unnest($1::text[]) as k order by h) as ordered",
        keys,
    )


async def failures(
    conn: asyncpg.Connection, user_id: UUID, client: str, number: str, now: datetime, limits: LinkLimits
) -> Failures:
    """Attempts of the last day, reserved ones included: as many rows as the largest limit reads
    (the throttle needs the limit-th newest), so every limit settings allow is the one enforced."""
    since = now - timedelta(days=1)
    member = await conn.fetch(
        "select at, betriebsnummer from link_failures where user_id = $1 and at > $2 order by at desc limit $3",
        user_id,
        since,
        max(limits.member_hour, limits.member_day),
    )
    address = await conn.fetch(
        "select at from link_failures where client = $1 and at > $2 order by at desc limit $3",
        client,
        since,
        max(limits.client_hour, limits.client_day),
    )
    count = await conn.fetchval(
        "select count(*) from (select 1 from link_failures where betriebsnummer = $1 and at > $2 limit $3) as day",
        number,
        since,
        limits.business_day,
    )
    return Failures([(r["at"], r["betriebsnummer"]) for r in member], [r["at"] for r in address], count)


async def reserve_attempt(conn: asyncpg.Connection, user_id: UUID, client: str, number: str, now: datetime) -> int:
    """Counted as a failure from now on, unless released."""
    return await conn.fetchval(
        "insert into link_failures (user_id, client, betriebsnummer, at) values ($1, $2, $3, $4) returning id",
        user_id,
        client,
        number,
        now,
    )


async def release_attempt(conn: asyncpg.Connection, attempt_id: int) -> None:
    await conn.execute("delete from link_failures where id = $1", attempt_id)


async def release_if_known(conn: asyncpg.Connection, attempt_id: int, number: str) -> bool:
    """Release the attempt if `number` is an active business of the register; whether it is."""
    return bool(
        await conn.fetchval(
            "with known as (select 1 from businesses where betriebsnummer = $2 and deleted_at is null),"
            " released as (delete from link_failures where id = $1 and exists (select 1 from known))"
            " select exists (select 1 from known)",
            attempt_id,
            number,
        )
    )


async def failures_of(conn: asyncpg.Connection, number: str) -> list[asyncpg.Record]:
    """Failed link attempts at a business, newest first, with the member's name where pins knows it."""
    return await conn.fetch(
        "select f.at, f.user_id, m.first_name, m.last_name from link_failures f left join members m using (user_id)"
        " where f.betriebsnummer = $1 order by f.at desc limit 200",
        number,
    )


async def linked_businesses(conn: asyncpg.Connection, user_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"select {', '.join('b.' + c for c in BUSINESS.split(', '))}, k.linked_at"
        " from links k join businesses b using (betriebsnummer)"
        " where k.user_id = $1 and b.deleted_at is null order by k.linked_at",
        user_id,
    )


async def linked_accounts(conn: asyncpg.Connection, numbers: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch(
        "select k.betriebsnummer, k.user_id, k.linked_at, m.email, m.first_name, m.last_name"
        " from links k left join members m using (user_id) where k.betriebsnummer = any($1::text[])"
        " order by k.linked_at",
        numbers,
    )


async def save_member(conn: asyncpg.Connection, user_id: UUID, email: str, first: str, last: str, at: datetime) -> None:
    await conn.execute(
        "insert into members (user_id, email, first_name, last_name, confirmed_at) values ($1, $2, $3, $4, $5)"
        " on conflict (user_id) do update set email = $2, first_name = $3, last_name = $4, confirmed_at = $5"
        " where members.confirmed_at <= $5",
        user_id,
        email,
        first,
        last,
        at,
    )


async def bury(conn: asyncpg.Connection, user_id: UUID, at: datetime) -> None:
    await conn.execute(
        "insert into member_tombstones (user_id, deleted_at) values ($1, $2) on conflict do nothing", user_id, at
    )


async def buried(conn: asyncpg.Connection, user_id: UUID) -> bool:
    return bool(await conn.fetchval("select true from member_tombstones where user_id = $1", user_id))


async def purge_tombstones(conn: asyncpg.Connection, before: datetime) -> int:
    result = await conn.execute("delete from member_tombstones where deleted_at < $1", before)
    return rows_affected(result)


async def purge(conn: asyncpg.Connection, failed_before: datetime) -> int:
    result = await conn.execute("delete from link_failures where at < $1", failed_before)
    return rows_affected(result)


async def lock_member(conn: asyncpg.Connection, user_id: UUID) -> None:
    """Serialise one member's requests, so two at once cannot both slip under the limit."""
    await conn.execute("select pg_advisory_xact_lock(hashtext($1))", f"pins:member:{user_id}")


async def linked_since(conn: asyncpg.Connection, user_id: UUID, since: datetime) -> bool:
    """Whether the member linked a business after `since` (a session's start, to the millisecond)."""
    return bool(
        await conn.fetchval(
            "select exists (select 1 from links where user_id = $1 and date_trunc('milliseconds', linked_at) > $2)",
            user_id,
            since,
        )
    )
