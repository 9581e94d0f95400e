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


# A person's projection row and an event's mails in one statement (issue 12: four round trips
# fewer for every user event). The tombstone is read with the statement's snapshot: after the
# person's lock (`person_lock`, taken with the event's marker), so an erasure that held it before
# has committed and is seen.
_RECORD = """
with erased as (select 1 from tombstones where user_id = $1),
person as (
    insert into recipients (user_id, email, first_name, last_name, updated_at)
    select $1, $2, $3, $4, $5 where $1::uuid is not null and not exists (select 1 from erased)
    on conflict (user_id) do update set email = excluded.email,
        first_name = excluded.first_name, last_name = excluded.last_name, updated_at = excluded.updated_at
    where recipients.updated_at <= excluded.updated_at
),
added as (
    insert into mails (id, source_event_id, kind, recipient, context, sealed, message_id,
        next_attempt_at, created_at, useful_until, urgency, request_id, forget_when_settled)
    select m.id, m.source_event_id, m.kind, m.recipient, m.context::jsonb, m.sealed::jsonb, m.message_id,
        m.at, m.at, m.useful_until, m.urgency, m.request_id, m.forget
    from unnest($6::uuid[], $7::uuid[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                $13::timestamptz[], $14::timestamptz[], $15::smallint[], $16::text[], $17::boolean[])
        as m(id, source_event_id, kind, recipient, context, sealed, message_id, at, useful_until, urgency,
             request_id, forget)
    where not exists (select 1 from erased)
    on conflict (source_event_id, kind) do nothing
    returning kind
),
woken as (select pg_notify($18, '') from (select from added limit 1) as any_added)
select exists (select from erased) as erased, array(select kind from added) as added,
       (select count(*) from woken) as woken
"""


async def record(
    conn: asyncpg.Connection, person: domain.Recipient | None, mails: list[domain.NewMail], now: datetime
) -> list[str] | None:
    """What a user event tells about its `person` (an older event than the one recorded changes
    nothing) and the `mails` it asks for (as `add_mail`; the workers are woken on commit), in one
    statement: the kinds of the mails queued now (a redelivered event's are there already), or
    None when the person was erased (a tombstone): then nothing is written. Inside the
    transaction that holds `person_lock`."""
    columns = list(zip(*(_mail_values(uuid4(), mail, now) for mail in mails), strict=True)) or [()] * 12
    row = await conn.fetchrow(
        _RECORD,
        *(
            (person.user_id, person.email, person.first_name, person.last_name, person.updated_at)
            if person is not None
            else (None,) * 5
        ),
        *(list(column) for column in columns),
        CHANNEL,
    )
    return None if row["erased"] else list(row["added"])


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
