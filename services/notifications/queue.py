"""All SQL of sending from the mail queue (schema `notifications`): claims, leases, outcomes.

A claim is a lease on the database's clock, `now()`, not the app's: the replicas' clocks may
differ by more than a lease is long, and the app's clock is the tests' to move. The schedule
(`next_attempt_at`, `useful_until`) is on the app's clock, passed in as `now`.
"""

import json
from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

import asyncpg

from runtime.db import rows_affected
from services.notifications import domain, schedule
from services.notifications.repository import CHANNEL

COLUMNS = (
    "id, kind, recipient, context::text as context, sealed::text as sealed, attempts, useful_until, takeovers,"
    " request_id"
)


async def claim_due(pool: asyncpg.Pool, now: datetime, limit: int, worker: UUID) -> list[domain.QueuedMail]:
    """Take due mails, the most urgent and then the oldest first, and mails whose worker died,
    under a lease held by `worker`, and commit at once: the sending happens outside any
    transaction, and other replicas skip what is taken. One statement, its own transaction (no
    BEGIN and COMMIT around it: two round trips a batch fewer)."""
    rows = await pool.fetch(
        "with claimed as (update mails m set state = 'processing', lease_owner = $4,"
        "  locked_until = now() + $2::interval, attempts = m.attempts + 1,"
        "  takeovers = m.takeovers + (m.state = 'processing')::int"
        " where id in (select id from mails"
        "  where ((state = 'queued' and next_attempt_at <= $1)"
        "     or (state = 'processing' and locked_until <= now()))"
        "    and useful_until > $1"
        "  order by urgency, created_at limit $3 for update skip locked)"
        " returning *)"
        f" select {COLUMNS} from claimed order by urgency, created_at",
        now,
        schedule.LEASE,
        limit,
        worker,
    )
    return [_queued(row) for row in rows]


def _queued(row: asyncpg.Record) -> domain.QueuedMail:
    return domain.QueuedMail(
        row["id"],
        row["kind"],
        row["recipient"],
        json.loads(row["context"]),
        json.loads(row["sealed"]),
        row["attempts"],
        row["useful_until"],
        row["takeovers"],
        row["request_id"],
    )


async def renew_leases(pool: asyncpg.Pool, worker: UUID, mail_ids: Iterable[UUID]) -> int:
    """The heartbeat: the mails `worker` is working on right now stay its own for another lease.
    Only those: a claim its pass gave up on (Postgres went away mid-batch) must expire and be
    taken over, not be kept alive by a process that no longer works on it."""
    result = await pool.execute(
        "update mails set locked_until = now() + $2::interval"
        " where lease_owner = $1 and state = 'processing' and id = any($3::uuid[])",
        worker,
        schedule.LEASE,
        list(mail_ids),
    )
    return rows_affected(result)


async def hold(pool: asyncpg.Pool, mail_id: UUID, worker: UUID) -> bool:
    """Right before sending: renew the lease, and learn whether it is still ours (a worker frozen
    longer than a lease has lost its mails to another and must not send them)."""
    held = await pool.fetchval(
        "update mails set locked_until = now() + $3::interval"
        " where id = $1 and lease_owner = $2 and state = 'processing' returning true",
        mail_id,
        worker,
        schedule.LEASE,
    )
    return bool(held)


async def mark_sent(pool: asyncpg.Pool, mail_id: UUID, worker: UUID, now: datetime) -> None:
    await pool.execute(
        "update mails set state = 'sent', sent_at = $3, locked_until = null, lease_owner = null,"
        " last_error = null, waits_for_server = false"
        " where id = $1 and lease_owner = $2 and state = 'processing'",
        mail_id,
        worker,
        now,
    )


async def mark_failed(
    pool: asyncpg.Pool, mail_id: UUID, worker: UUID, decision: schedule.Retry | schedule.GiveUp, error: str
) -> None:
    if isinstance(decision, schedule.Retry):
        await pool.execute(
            "update mails set state = 'queued', next_attempt_at = $3, waits_for_server = $4,"
            " locked_until = null, lease_owner = null, last_error = $5"
            " where id = $1 and lease_owner = $2 and state = 'processing'",
            mail_id,
            worker,
            decision.at,
            decision.server,
            error,
        )
    else:
        await pool.execute(
            "update mails set state = $3, locked_until = null, lease_owner = null, last_error = $4"
            " where id = $1 and lease_owner = $2 and state = 'processing'",
            mail_id,
            worker,
            decision.state,
            error,
        )


async def release(pool: asyncpg.Pool, mail_ids: list[UUID], worker: UUID) -> None:
    """Claimed mails go back to the queue untouched (the claim's attempt is not counted)."""
    if mail_ids:
        await pool.execute(
            "update mails set state = 'queued', locked_until = null, lease_owner = null, attempts = attempts - 1"
            " where id = any($1::uuid[]) and lease_owner = $2 and state = 'processing'",
            mail_ids,
            worker,
        )


async def expire(pool: asyncpg.Pool, now: datetime) -> list[str]:
    """Mails whose purpose ended unsent end `expired` (a mail being sent right now finishes);
    their kinds, one per mail."""
    rows = await pool.fetch(
        "update mails set state = 'expired', locked_until = null, lease_owner = null"
        " where useful_until <= $1"
        "   and (state = 'queued' or (state = 'processing' and locked_until <= now()))"
        " returning kind",
        now,
    )
    return [row["kind"] for row in rows]


async def resume_waiting(pool: asyncpg.Pool, now: datetime) -> int:
    """A mail went out, so the server is back: what waits only for it is due now, and the
    workers hear of it. The claim's order (urgency, then age) decides what goes first, not the
    retry times a long outage spread out."""
    async with pool.acquire() as conn, conn.transaction():
        result = await conn.execute(
            "update mails set next_attempt_at = $1, waits_for_server = false"
            " where state = 'queued' and waits_for_server and next_attempt_at > $1",
            now,
        )
        resumed = rows_affected(result)
        if resumed:
            await conn.execute("select pg_notify($1, '')", CHANNEL)
    return resumed


async def depth(pool: asyncpg.Pool) -> dict[tuple[str, str], int]:
    """Mails not sent, by state and kind."""
    rows = await pool.fetch("select state, kind, count(*) as n from mails where state <> 'sent' group by state, kind")
    return {(row["state"], row["kind"]): row["n"] for row in rows}


async def find(pool: asyncpg.Pool, states: list[str], recipient: str | None, limit: int) -> list[asyncpg.Record]:
    """The newest mails in `states`, to one address if given: what support looks up when a
    member says a mail never came."""
    return await pool.fetch(
        "select id, state, kind, recipient, attempts, created_at, useful_until, sent_at, last_error from mails"
        " where state = any($1::text[]) and ($2::text is null or lower(recipient) = lower($2))"
        " order by created_at desc limit $3",
        states,
        recipient,
        limit,
    )
