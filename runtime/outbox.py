"""The transactional outbox: write an event with the state change, publish it afterwards.

`enqueue` runs inside the caller's transaction. `OutboxRelay` publishes what is unpublished in
three steps, none of which holds a transaction open over the network: it claims a batch under a
short lease (one quick transaction), publishes with no transaction open, and records the outcome
(another). Only the first unpublished row of each aggregate (runtime.outbox_rules) is claimed,
so events of one member or business go out in the order they were written, and a row that
fails waits with backoff while the rows of other aggregates pass it. Replicas share the table:
a claimed row is no one else's until its lease runs out (a relay killed mid-publish), and a row
published twice then is dropped by JetStream's duplicate window (`Nats-Msg-Id` is the event id)
and by the consumers' inbox beyond it. The relay wakes on `NOTIFY`, polls as a fallback and
outlives Postgres and NATS outages. An event written by a statement of its own (`enqueue_with`)
in a process whose relay is listening wakes that relay directly, after the commit, instead: a
NOTIFY costs Postgres a signal and the listener's wake-up for every commit (issue 12).

Order is the order of `id`: a use case locks its aggregate's row before it enqueues, so two
transactions of one aggregate never commit out of their ids' order.
"""

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

import asyncpg

from contracts import STREAMS, Event
from runtime import logs, metrics, wakeup
from runtime.db import rows_affected
from runtime.outbox_rules import URGENT, aggregate_key, retry_delay

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes, str], Awaitable[object]]  # subject, payload, event id

# Published rows are kept as long as the longest-lived stream keeps its events: whatever a
# stream could still hold, `outbox replay` can give back to it.
KEEP_PUBLISHED = timedelta(days=max(spec["max_age_days"] for spec in STREAMS.values()))
LEASE = timedelta(seconds=10)  # how long a relay killed mid-publish holds its rows
PUBLISH_TIMEOUT = 5.0  # seconds for a batch's acknowledgements; well inside the lease


class BusUnavailable(ConnectionError):
    """NATS is not connected: nothing was sent, and the row waits without counting a failure."""


def channel(schema: str) -> str:
    return f"{schema}_outbox"


_COLUMNS = "event_id, subject, payload, aggregate_key, request_id, urgent"
# Whether a row is urgent follows from its subject (outbox_rules.URGENT, constants written into
# the statement), so the parameters stay the five of `_row`.
_URGENT = "$2 = any('{" + ",".join(sorted(URGENT)) + "}'::text[])"
_INSERT = f"insert into outbox ({_COLUMNS}) values ($1, $2, $3, $4, $5, {_URGENT})"
_INSERT_SELECT = f"insert into outbox ({_COLUMNS}) select $1, $2, $3, $4, $5, {_URGENT}"


_INSERT_AND_NOTIFY = f"with added as ({_INSERT} returning id) select pg_notify($6, '') from added"


def _row(event: Event) -> tuple:
    # The request being handled, if any: the relay sends it along as the event's header.
    request_id = logs.current_request_id()
    return event.event_id, event.SUBJECT, event.model_dump(mode="json"), aggregate_key(event), request_id


async def enqueue(conn: asyncpg.Connection, event: Event, schema: str) -> None:
    """The row and the relay's wake-up (delivered at commit) in one round trip."""
    await conn.execute(_INSERT_AND_NOTIFY, *_row(event), channel(schema))


async def enqueue_with(conn: asyncpg.Connection, event: Event, schema: str, ctes: str, guard: str, *args) -> bool:
    """The change an event reports, its row and the relay's wake-up in one statement, so in one
    round trip and its own transaction: `ctes` are data-modifying CTEs (their parameters numbered
    from $7) that write the change; the event goes in only when the CTE named `guard` returned a
    row. True when it did (the change was made). The wake-up is this process's listening relay's,
    set once the statement has committed, or else a NOTIFY (also inside a caller's transaction,
    whose commit is still to come)."""
    local = wakeup.after_commit(conn, channel(schema))
    row = await conn.fetchrow(
        f"with {ctes}, added as ({_INSERT_SELECT} from {guard} limit 1 returning id),"
        " woken as (select pg_notify($6, '') from added where $6::text is not null)"
        " select exists (select 1 from added) as enqueued, (select count(*) from woken) as woken",
        *_row(event),
        None if local is not None else channel(schema),
        *args,
    )
    if local is not None and row["enqueued"]:
        local.set()
    return row["enqueued"]


async def enqueue_many(conn: asyncpg.Connection, events: list[Event], schema: str) -> None:
    """Many events in one round trip (the yearly PIN issue writes thousands)."""
    if not events:
        return
    await conn.executemany(_INSERT, [_row(e) for e in events])
    await conn.execute("select pg_notify($1, '')", channel(schema))


# The first unpublished row of each aggregate that is due and not leased to another relay.
_HEAD = """
    published_at is null
      and (next_attempt_at is null or next_attempt_at <= now())
      and (claimed_until is null or claimed_until < now())
      and not exists (
          select 1 from outbox earlier
          where earlier.aggregate_key = o.aggregate_key and earlier.id < o.id and earlier.published_at is null
      )
"""
# A batch of heads, the urgent ones first (outbox_rules.URGENT, found by their partial index, not by
# walking a backlog), then the oldest of the rest; one statement, so a backlog costs no round trip.
_CLAIM = f"""
with urgent as (
    select id from outbox o where urgent and {_HEAD} order by id limit $1 for update skip locked
), rest as (
    select id from outbox o where {_HEAD} and o.id not in (select id from urgent)
    order by id limit $1 for update skip locked
), heads as (
    select id from (select id, 0 as lane from urgent union all select id, 1 from rest) lanes
    order by lane, id limit $1
)
update outbox set claimed_by = $2, claimed_until = now() + $3::interval
from heads where outbox.id = heads.id
returning outbox.id, outbox.event_id, outbox.subject, outbox.payload::text as payload, outbox.attempts,
          outbox.request_id
"""
# Whoever published it: published is published, even after the lease ran out.
# The published rows, and whether another row of their aggregates waits behind them (it can be
# claimed now): else a pass that claimed less than a batch leaves nothing for another pass.
_PUBLISHED = """
with done as (
    update outbox set published_at = now(), claimed_by = null, claimed_until = null
    where id = any($1::bigint[]) returning aggregate_key
)
select exists (
    select 1 from outbox
    where aggregate_key in (select aggregate_key from done) and published_at is null and id <> all($1::bigint[])
) as more
"""
_FAILED = (
    "update outbox set attempts = attempts + 1, last_error = $2, next_attempt_at = now() + $3::interval,"
    " claimed_by = null, claimed_until = null where id = $1 and claimed_by = $4 and published_at is null"
)
_RELEASE = (
    "update outbox set claimed_by = null, claimed_until = null"
    " where id = any($1::bigint[]) and claimed_by = $2 and published_at is null"
)
_BACKLOG = """
select count(*) as waiting, count(*) filter (where attempts > 0) as failing,
       coalesce(extract(epoch from now() - min(created_at)), 0)::float8 as oldest
from outbox where published_at is null
"""


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        publish: Publish,
        schema: str,
        *,
        poll_interval: float = 1.0,
        batch_size: int = 100,
        lease: timedelta = LEASE,
        publish_timeout: float = PUBLISH_TIMEOUT,
    ) -> None:
        if lease.total_seconds() < 2 * publish_timeout:
            raise ValueError("the lease must outlast a batch's publishing with room to record it")
        self.pool = pool
        self.publish = publish
        self.schema = schema
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.lease = lease
        self.publish_timeout = publish_timeout
        self.owner = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
        self._next_backlog = 0.0

    async def run(self) -> None:
        await wakeup.run_on_notify(
            self.pool,
            channel(self.schema),
            self._drain,
            batch_size=self.batch_size,
            poll_interval=self.poll_interval,
            name="outbox relay",
        )

    async def _drain(self) -> int:
        """Passes until one finds no more to claim: its batch was not full, and no published row
        freed the next of its aggregate. (What is written meanwhile wakes the relay again.)"""
        done = 0
        while True:
            handled, more = await self.relay_once()
            done += handled
            if not more and handled < self.batch_size:
                break
        await self._observe_backlog()
        return done

    async def relay_once(self) -> tuple[int, bool]:
        """Claim, publish and record one batch: how many rows were published or failed (rows put
        back because NATS is away do not count: they are not done), and whether a published row
        has the next of its aggregate waiting."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(_CLAIM, self.batch_size, self.owner, self.lease)
        if not rows:
            return 0, False
        outcomes = await self._publish_all(rows)
        return await self._record(rows, outcomes)

    async def _publish_all(self, rows: Sequence[asyncpg.Record]) -> list[BaseException | None]:
        # At most one row per aggregate is in a batch, so they may all be in flight at once.
        tasks = [asyncio.create_task(self._publish_one(row)) for row in rows]
        try:
            await asyncio.wait(tasks, timeout=self.publish_timeout)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return [TimeoutError("no acknowledgement in time") if t.cancelled() else t.result() for t in tasks]

    async def _publish_one(self, row: asyncpg.Record) -> BaseException | None:
        try:
            # In the request's log context: the publisher puts its id into the message's headers.
            with logs.request_context(row["request_id"]):
                await self.publish(row["subject"], row["payload"].encode(), str(row["event_id"]))
        except Exception as error:
            return error
        return None

    async def _record(self, rows: Sequence[asyncpg.Record], outcomes: list[BaseException | None]) -> tuple[int, bool]:
        published = [row["id"] for row, error in zip(rows, outcomes, strict=True) if error is None]
        away = [row["id"] for row, error in zip(rows, outcomes, strict=True) if isinstance(error, BusUnavailable)]
        failed = [
            (row, error)
            for row, error in zip(rows, outcomes, strict=True)
            if error is not None and not isinstance(error, BusUnavailable)
        ]
        async with self.pool.acquire() as conn:
            if failed or away:
                async with conn.transaction():
                    more = await self._write_outcomes(conn, published, failed, away)
            else:  # the usual batch: one statement, its own transaction, two round trips fewer
                more = await self._write_outcomes(conn, published, failed, away)
        metrics.EVENTS_PUBLISHED.inc(len(published))
        for row, error in failed:
            metrics.OUTBOX_PUBLISH_FAILURES.labels(row["subject"]).inc()
            log.warning(
                "event not published, will retry",
                extra={
                    "event_id": str(row["event_id"]),
                    "subject": row["subject"],
                    "attempts": row["attempts"] + 1,
                    "retry_in": retry_delay(row["attempts"] + 1).total_seconds(),
                    "error": _describe(error),
                },
            )
        return len(published) + len(failed), more

    async def _write_outcomes(
        self,
        conn: asyncpg.Connection,
        published: list[int],
        failed: list[tuple[asyncpg.Record, BaseException]],
        away: list[int],
    ) -> bool:
        """Whether a published row has the next of its aggregate waiting."""
        more = bool(published) and await conn.fetchval(_PUBLISHED, published)
        if failed:
            await conn.executemany(
                _FAILED,
                [(row["id"], _describe(error), retry_delay(row["attempts"] + 1), self.owner) for row, error in failed],
            )
        if away:
            await conn.execute(_RELEASE, away, self.owner)
        return more

    async def _observe_backlog(self) -> None:
        """What an operator watches for a stuck row: how many wait, how many failed, the oldest's age."""
        loop_time = asyncio.get_running_loop().time()
        if loop_time < self._next_backlog:
            return
        self._next_backlog = loop_time + 5
        async with self.pool.acquire() as conn:
            backlog = await conn.fetchrow(_BACKLOG)
        metrics.OUTBOX_PENDING.set(backlog["waiting"])
        metrics.OUTBOX_FAILING.set(backlog["failing"])
        metrics.OUTBOX_OLDEST_AGE.set(backlog["oldest"])


async def purge_published(conn: asyncpg.Connection, published_before: datetime) -> int:
    """Published rows past their keep (runtime.retention, on the service's clock): every service
    with an outbox runs it in its housekeeping, so the relay only publishes."""
    result = await conn.execute("delete from outbox where published_at < $1", published_before)
    return rows_affected(result)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:500]
