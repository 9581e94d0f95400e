"""SQL of notifications' intake: queueing mails, the recipients projection, the contact form's
counts (schema `notifications`). Sending from the queue is `queue`'s.

JSON goes in and out as text (`::text::jsonb`, `::text`), whatever codec the pool has.
"""

import json
from datetime import datetime
from typing import Literal
from uuid import UUID, uuid4

import asyncpg

from contracts import Event
from runtime import wakeup
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
        *_mail_values(mail_id, mail, now),
    )
    if added is not None:
        await conn.execute("select pg_notify($1, '')", CHANNEL)
    return added


def _mail_values(mail_id: UUID, mail: domain.NewMail, now: datetime) -> tuple:
    return (
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


# migration 0007: the event's marker, the lock, the person (5), the mails' columns (12), the channel
_RECORD_EVENT = (
    "select first, erased, added from record_event("
    "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
)


async def record(
    conn: asyncpg.Connection, person: domain.Recipient | None, mails: list[domain.NewMail], now: datetime
) -> list[str] | None:
    """What a user event tells about its `person` (an older event than the one recorded changes
    nothing) and the `mails` it asks for (as `add_mail`; the workers are woken on commit), in one
    call: the kinds of the mails queued now (a redelivered event's are there already), or None
    when the person was erased (a tombstone): then nothing is written. Inside the transaction
    that holds `person_lock` and the event's marker."""
    _, erased, added = await _record_event(conn, None, None, person, mails, now)
    return None if erased else added


async def record_event(
    conn: asyncpg.Connection,
    event: Event,
    lock: str | None,
    person: domain.Recipient | None,
    mails: list[domain.NewMail],
    now: datetime,
) -> list[str] | None | Literal[False]:
    """As `record`, with the event's marker (runtime.inbox's table) and `lock` (`person_lock`)
    taken first, all in one call and its own transaction (migration 0007: one round trip instead
    of four): False when the event was handled before, and nothing else is done. A mail worker
    listening in this process is woken directly once it committed, instead of by a NOTIFY."""
    local = wakeup.after_commit(conn, CHANNEL)
    first, erased, added = await _record_event(conn, event, lock, person, mails, now, notify=local is None)
    if not first:
        return False
    if local is not None and added:
        local.set()
    return None if erased else added


async def _record_event(
    conn: asyncpg.Connection,
    event: Event | None,
    lock: str | None,
    person: domain.Recipient | None,
    mails: list[domain.NewMail],
    now: datetime,
    *,
    notify: bool = True,
) -> tuple[bool, bool, list[str]]:
    columns = list(zip(*(_mail_values(uuid4(), mail, now) for mail in mails), strict=True)) or [()] * 12
    row = await conn.fetchrow(
        _RECORD_EVENT,
        *((event.event_id, event.SUBJECT) if event is not None else (None, None)),
        lock,
        *(
            (person.user_id, person.email, person.first_name, person.last_name, person.updated_at)
            if person is not None
            else (None,) * 5
        ),
        *(list(column) for column in columns),
        CHANNEL if notify else None,
    )
    return row["first"], row["erased"], list(row["added"])


def person_lock(user_id: UUID) -> str:
    """The advisory lock under which one person's events change the projection one at a time, so
    an erasure and a late user event in parallel cannot both see no tombstone."""
    return f"recipient:{user_id}"


async def bury(conn: asyncpg.Connection, user_id: UUID, now: datetime) -> None:
    await conn.execute(
        "insert into tombstones (user_id, deleted_at) values ($1, $2) on conflict (user_id) do nothing", user_id, now
    )


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
