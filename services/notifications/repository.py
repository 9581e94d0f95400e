"""SQL of notifications' intake: queueing mails, the recipients projection, the contact form's
counts (schema `notifications`). Sending from the queue is `queue`'s.

JSON goes in and out as text (`::text::jsonb`, `::text`), whatever codec the pool has.
"""

import json
from datetime import datetime
from uuid import UUID, uuid4

import asyncpg

from runtime.logs import current_request_id
from services.notifications import domain, schedule

CHANNEL = "notifications_mails"


async def add_mail(conn: asyncpg.Connection, mail: domain.NewMail, now: datetime) -> UUID | None:
    """Queue a mail and wake the workers (on commit); None if this event's mail exists. The
    request being handled (the log context's, from the event's header) is kept with it for the
    sending's log line."""
    mail_id = uuid4()
    added = await conn.fetchval(
        "insert into mails (id, source_event_id, kind, recipient, context, sealed, message_id,"
        " next_attempt_at, created_at, useful_until, urgency, request_id, forget_when_settled)"
        " values ($1, $2, $3, $4, $5::text::jsonb, $6::text::jsonb, $7, $8, $8, $9, $10, $11, $12)"
        " on conflict (source_event_id, kind) do nothing returning id",
        mail_id,
        mail.source_event_id,
        mail.kind,
        mail.recipient,
        json.dumps(mail.context),
        json.dumps(mail.sealed),
        domain.message_id(mail_id),
        now,
        schedule.useful_until(mail),
        schedule.urgency(mail.kind),
        current_request_id(),
        domain.forgotten_when_settled(mail.kind),
    )
    if added is not None:
        await conn.execute("select pg_notify($1, '')", CHANNEL)
    return added


async def lock_person(conn: asyncpg.Connection, user_id: UUID) -> None:
    """Until commit: what one user's events do to the projection happens one event at a time, so
    an erasure and a late user event in parallel cannot both see no tombstone."""
    await conn.execute("select pg_advisory_xact_lock(hashtext('recipient:' || $1::uuid::text))", user_id)


async def tombstoned(conn: asyncpg.Connection, user_id: UUID) -> bool:
    return bool(await conn.fetchval("select true from tombstones where user_id = $1", user_id))


async def bury(conn: asyncpg.Connection, user_id: UUID, now: datetime) -> None:
    await conn.execute(
        "insert into tombstones (user_id, deleted_at) values ($1, $2) on conflict (user_id) do nothing", user_id, now
    )


async def upsert_recipient(conn: asyncpg.Connection, recipient: domain.Recipient) -> bool:
    """Record who a user id is; an older event than the one recorded changes nothing, nor does
    any event about someone erased (a tombstone).

    True if the row was written (new, or newer than what was there)."""
    written = await conn.fetchval(
        "insert into recipients (user_id, email, first_name, last_name, updated_at)"
        " select $1, $2, $3, $4, $5 where not exists (select 1 from tombstones where user_id = $1)"
        " on conflict (user_id) do update set email = excluded.email,"
        "  first_name = excluded.first_name, last_name = excluded.last_name,"
        "  updated_at = excluded.updated_at"
        " where recipients.updated_at <= excluded.updated_at"
        " returning true",
        recipient.user_id,
        recipient.email,
        recipient.first_name,
        recipient.last_name,
        recipient.updated_at,
    )
    return bool(written)


async def recipient(conn: asyncpg.Connection, user_id: UUID) -> domain.Recipient | None:
    row = await conn.fetchrow(
        "select user_id, email, first_name, last_name, updated_at from recipients where user_id = $1",
        user_id,
    )
    if row is None:
        return None
    return domain.Recipient(row["user_id"], row["email"], row["first_name"], row["last_name"], row["updated_at"])


async def lock_contact_keys(conn: asyncpg.Connection, client: str, address_key: str) -> None:
    """Until commit: concurrent requests from one client or to one address count one by one."""
    for key in (f"contact-client:{client}", f"contact-address:{address_key}"):
        await conn.execute("select pg_advisory_xact_lock(hashtext($1))", key)


async def lock_all_contacts(conn: asyncpg.Connection) -> None:
    """Until commit: requests from anywhere count one by one against the cap for everyone, so
    parallel requests cannot all see the same count and slip past it together. Taken after
    `lock_contact_keys`, in the same order by every request, and held only for the count and the
    inserts."""
    await conn.execute("select pg_advisory_xact_lock(hashtext('contact-everyone'))")


async def latest_contacts(conn: asyncpg.Connection, since: datetime, limit: int) -> list[datetime]:
    """When the newest `limit` requests since `since` were made, from anyone."""
    return [
        r["created_at"]
        for r in await conn.fetch(
            "select created_at from contact_requests where created_at > $1 order by created_at desc limit $2",
            since,
            limit,
        )
    ]


async def recent_contacts(
    conn: asyncpg.Connection, client: str, address_key: str, since: datetime
) -> tuple[list[datetime], list[datetime]]:
    """When the requests since `since` were made: from this client, and to this address."""
    rows = await conn.fetch(
        "select created_at, client = $1 as by_client, address_key = $2 as by_address"
        " from contact_requests where created_at > $3 and (client = $1 or address_key = $2)",
        client,
        address_key,
        since,
    )
    return ([r["created_at"] for r in rows if r["by_client"]], [r["created_at"] for r in rows if r["by_address"]])


async def add_contact(
    conn: asyncpg.Connection,
    request_id: UUID,
    client: str,
    address_key: str,
    now: datetime,
    forget_before: datetime,
) -> None:
    await conn.execute("delete from contact_requests where created_at < $1", forget_before)
    await conn.execute(
        "insert into contact_requests (id, client, address_key, created_at) values ($1, $2, $3, $4)",
        request_id,
        client,
        address_key,
        now,
    )


async def mails_to(pool: asyncpg.Pool, email: str, limit: int) -> list[asyncpg.Record]:
    """The newest mails to one address, whatever its case: support's "my mail never came"."""
    return await pool.fetch(
        "select id, kind, state, attempts, last_error, created_at, sent_at, next_attempt_at from mails"
        " where lower(recipient) = lower($1) order by created_at desc, id limit $2",
        email,
        limit,
    )
