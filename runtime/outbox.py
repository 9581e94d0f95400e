"""The transactional outbox: write an event with the state change, publish it afterwards.

`enqueue` runs inside the caller's transaction. `OutboxRelay` publishes what is unpublished,
taking rows `FOR UPDATE SKIP LOCKED` (replicas share the work), marking sent only what JetStream
acknowledged. It wakes on `NOTIFY` and polls as a fallback, and outlives Postgres and NATS
restarts. A row published twice (a crash between publish and commit) is dropped by JetStream's
duplicate window, since `Nats-Msg-Id` is the event id, and by the consumers' inbox beyond it.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import asyncpg

from contracts import Event
from runtime import metrics
from runtime.wakeup import run_on_notify

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes, str], Awaitable[None]]  # subject, payload, event id


def channel(schema: str) -> str:
    return f"{schema}_outbox"


async def enqueue(conn: asyncpg.Connection, event: Event, schema: str) -> None:
    await conn.execute(
        "insert into outbox (event_id, subject, payload) values ($1, $2, $3)",
        event.event_id,
        event.SUBJECT,
        event.model_dump(mode="json"),
    )
    await conn.execute("select pg_notify($1, '')", channel(schema))


async def enqueue_many(conn: asyncpg.Connection, events: list[Event], schema: str) -> None:
    """Many events in one round trip (the yearly PIN issue writes thousands)."""
    if not events:
        return
    await conn.executemany(
        "insert into outbox (event_id, subject, payload) values ($1, $2, $3)",
        [(e.event_id, e.SUBJECT, e.model_dump(mode="json")) for e in events],
    )
    await conn.execute("select pg_notify($1, '')", channel(schema))


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        publish: Publish,
        schema: str,
        *,
        poll_interval: float = 1.0,
        batch_size: int = 100,
        keep_published: timedelta = timedelta(days=7),
    ) -> None:
        self.pool = pool
        self.publish = publish
        self.schema = schema
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.keep_published = keep_published
        self._next_purge = 0.0

    async def run(self) -> None:
        await run_on_notify(
            self.pool,
            channel(self.schema),
            self._drain,
            batch_size=self.batch_size,
            poll_interval=self.poll_interval,
            name="outbox relay",
        )

    async def _drain(self) -> int:
        published = await self.relay_once()
        await self._purge()
        return published

    async def relay_once(self) -> int:
        """Publish one batch; return how many rows were published."""
        published: list[int] = []
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "select id, event_id, subject, payload::text as payload from outbox"
                " where published_at is null order by id limit $1 for update skip locked",
                self.batch_size,
            )
            failure: Exception | None = None
            for row in rows:
                try:
                    await self.publish(row["subject"], row["payload"].encode(), str(row["event_id"]))
                except Exception as error:
                    failure = error
                    break
                published.append(row["id"])
            if published:
                await conn.execute("update outbox set published_at = now() where id = any($1::bigint[])", published)
        metrics.EVENTS_PUBLISHED.inc(len(published))
        if failure is not None:
            raise failure
        return len(published)

    async def _purge(self) -> None:
        loop_time = asyncio.get_running_loop().time()
        if loop_time < self._next_purge:
            return
        self._next_purge = loop_time + 600
        async with self.pool.acquire() as conn:
            await conn.execute("delete from outbox where published_at < now() - $1::interval", self.keep_published)
