"""A service's dead-letter table: the messages its consumers gave up on, until an operator acts.

runtime.consumers writes a row, and only after it committed terminates the message in JetStream;
a redelivery of the same message (a lost acknowledgement) finds its row by stream sequence and
updates it. `python -m services.<name> dead-letters` lists them, hands one to the handler again
(`retry`) or closes it (`drop`); an open row is never deleted, a closed one is deleted by the
service's housekeeping once runtime.retention.RESOLVED_DEAD_LETTERS has passed. The `portal_dead_letters` gauge counts
the rows by state, so an alert can ask for `state="open"`. A payload is never logged.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from pydantic import ValidationError

from contracts import EVENTS_BY_SUBJECT, Event
from runtime import metrics, redelivery
from runtime.db import rows_affected

log = logging.getLogger(__name__)

Accept = Callable[[Event], Awaitable[bool]]  # runtime.consumers.Accept
STATES = ("open", "retried", "dropped")
GAUGE_INTERVAL = 5.0  # seconds: a retry or drop from the command line shows on /metrics this soon


@dataclass(frozen=True)
class DeadLetter:
    """A message as JetStream delivered it, and why it was given up."""

    consumer: str
    stream: str
    subject: str
    sequence: int
    published_at: datetime
    payload: bytes
    reason: str
    kind: str  # runtime.redelivery.Kind: the metric's label
    deliveries: int
    event_id: UUID | None = None


@dataclass(frozen=True)
class Row:
    id: int
    consumer: str
    stream: str
    subject: str
    sequence: int
    published_at: datetime
    event_id: UUID | None
    payload: bytes
    reason: str
    deliveries: int
    first_failure: datetime
    last_failure: datetime
    state: str
    resolved_at: datetime | None


# A redelivery of a message already here (its termination was lost) moves the open row on; one an
# operator closed stays closed, and the message is terminated again.
_PUT = """
insert into dead_letters (consumer, stream, subject, sequence, published_at, event_id, payload, reason, deliveries)
values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
on conflict (consumer, stream, sequence, published_at) do update
    set reason = excluded.reason, last_failure = now(),
        deliveries = greatest(dead_letters.deliveries, excluded.deliveries)
    where dead_letters.state = 'open'
returning id, xmax = 0 as inserted
"""
_FIND = "select id from dead_letters where consumer = $1 and stream = $2 and sequence = $3 and published_at = $4"
_COLUMNS = ", ".join(Row.__dataclass_fields__)


class DeadLetters:
    def __init__(self, pool: asyncpg.Pool, service: str) -> None:
        self.pool = pool
        self.service = service

    async def put(self, letter: DeadLetter) -> int:
        """The row's id once it committed."""
        key = (letter.consumer, letter.stream, letter.sequence, letter.published_at)
        async with self.pool.acquire() as conn:
            written = await conn.fetchrow(
                _PUT,
                letter.consumer,
                letter.stream,
                letter.subject,
                letter.sequence,
                letter.published_at,
                letter.event_id,
                letter.payload,
                letter.reason,
                letter.deliveries,
            )
            id = written["id"] if written else await conn.fetchval(_FIND, *key)
        if written and written["inserted"]:
            metrics.DEAD_LETTERED.labels(self.service, letter.subject, letter.kind).inc()
        with contextlib.suppress(Exception):  # the row is there; the watch puts the gauge right
            await self.refresh_gauge()
        return id

    async def rows(self, states: tuple[str, ...] = ("open",), limit: int = 200) -> list[Row]:
        async with self.pool.acquire() as conn:
            records = await conn.fetch(
                f"select {_COLUMNS} from dead_letters where state = any($1::text[]) order by id limit $2",
                list(states),
                limit,
            )
        return [Row(**record) for record in records]

    async def get(self, id: int) -> Row | None:
        async with self.pool.acquire() as conn:
            record = await conn.fetchrow(f"select {_COLUMNS} from dead_letters where id = $1", id)
        return Row(**record) if record else None

    async def close(self, id: int, state: str) -> bool:
        """Retried or dropped; False if it is not open (any more)."""
        if state not in ("retried", "dropped"):
            raise ValueError(f"a dead letter closes as retried or dropped, not {state}")
        async with self.pool.acquire() as conn:
            closed = await conn.fetchval(
                "update dead_letters set state = $2, resolved_at = now() where id = $1 and state = 'open'"
                " returning true",
                id,
                state,
            )
        return bool(closed)

    async def failed_again(self, id: int, reason: str) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                "update dead_letters set reason = $2, last_failure = now(), deliveries = deliveries + 1"
                " where id = $1 and state = 'open'",
                id,
                reason,
            )

    async def counts(self) -> dict[str, int]:
        async with self.pool.acquire() as conn:
            records = await conn.fetch("select state, count(*) as n from dead_letters group by state")
        found = {r["state"]: r["n"] for r in records}
        return {state: found.get(state, 0) for state in STATES}

    async def refresh_gauge(self) -> None:
        for state, n in (await self.counts()).items():
            metrics.DEAD_LETTERS.labels(self.service, state).set(n)

    async def watch(self, interval: float = GAUGE_INTERVAL) -> None:
        """Keep the gauge true while the service runs: other replicas and the command line change
        the table too."""
        while True:
            try:
                await self.refresh_gauge()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # Postgres away: the gauge keeps its last value
                log.debug("dead-letter gauge not refreshed", extra={"error": repr(error)})
            await asyncio.sleep(interval)


# An erased person in a message given up on: its payload (their name, their address) and its
# reason (an error's text may quote a value) go, and an open row closes as dropped, so no retry,
# however late, brings them back. Found by their id's bytes, as a payload that never parsed holds
# them too; the erasure's own message stays as it is.
_FORGET = """
update dead_letters
set payload = ''::bytea, reason = 'erased with the person it was about',
    state = case when state = 'open' then 'dropped' else state end, resolved_at = coalesce(resolved_at, now())
where position(convert_to($1::text, 'UTF8') in payload) > 0 and ($2::uuid is null or event_id is distinct from $2)
"""


async def forget_person(conn: asyncpg.Connection, user_id: UUID, erasure_event_id: UUID | None = None) -> int:
    """In the erasure's transaction: every dead letter about `user_id` loses its payload and, if
    open, closes as dropped (an operator sees that it was, and why). `erasure_event_id`: the
    user.deleted.v1 being handled, whose own row a retry closes. How many rows."""
    return rows_affected(await conn.execute(_FORGET, str(user_id), erasure_event_id))


async def purge_resolved(conn: asyncpg.Connection, resolved_before: datetime) -> int:
    """Closed rows (retried or dropped) resolved before `resolved_before`; open ones wait for an operator."""
    result = await conn.execute("delete from dead_letters where state <> 'open' and resolved_at < $1", resolved_before)
    return rows_affected(result)


@dataclass(frozen=True)
class Retried:
    ok: bool
    message: str  # for the operator, English


async def retry(store: DeadLetters, handlers: Mapping[str, Accept], id: int) -> Retried:
    """Hand a stored message to the service's handler again: the same idempotent accept as
    the consumer's, so an event handled meanwhile changes nothing. Read anew from the payload:
    a message that did not parse may parse now (a service that learnt its version)."""
    row = await store.get(id)
    if row is None:
        return Retried(False, f"#{id}: no such dead letter")
    if row.state != "open":
        return Retried(False, f"#{id} is {row.state}, not open: nothing done")
    contract, accept = EVENTS_BY_SUBJECT.get(row.subject), handlers.get(row.subject)
    if contract is None or accept is None:
        return Retried(False, f"#{id}: this service has no handler for {row.subject}")
    try:
        event = contract.model_validate_json(row.payload)
    except ValidationError as error:
        reason = redelivery.unreadable(row.subject, error)
        await store.failed_again(id, reason)
        return Retried(False, f"#{id} stays open: {reason}")
    try:
        new = await accept(event)
    except Exception as error:
        reason = redelivery.retry_failed(error)
        await store.failed_again(id, reason)
        return Retried(False, f"#{id} stays open: {reason}")
    await store.close(id, "retried")
    return Retried(True, f"#{id} retried: " + ("handled" if new else "it had been handled already, nothing changed"))
