"""The mail worker: wakes on NOTIFY (a polling fallback beside it) and sends what is due, and a
heartbeat beside it that keeps its claims and reports the queue.

Replicas run it side by side: rows are claimed `FOR UPDATE SKIP LOCKED` under a short lease in
this worker's name, renewed every `schedule.HEARTBEAT` while it lives, so the mails of a worker
that died are taken over within `schedule.LEASE`. It outlives Postgres and SMTP outages: it
logs, waits longer each time, and carries on.
"""

import asyncio
import logging
from datetime import timedelta
from uuid import UUID, uuid4

import asyncpg

from runtime.wakeup import run_on_notify
from services.notifications import delivery, domain, metrics, queue, repository, schedule
from services.notifications.handlers import Clock
from services.notifications.mailer import Mailer
from services.notifications.rendering import Composer

log = logging.getLogger(__name__)

REPORTED_STATES = ("queued", "processing", schedule.FAILED, schedule.EXPIRED)


class MailWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        composer: Composer,
        mailer: Mailer,
        clock: Clock,
        *,
        poll_interval: float = 1.0,
        batch_size: int = 10,
        first_retry: timedelta = schedule.FIRST_RETRY,
        heartbeat: timedelta = schedule.HEARTBEAT,
    ) -> None:
        self.id = uuid4()  # whose leases these are; a restarted process is another worker
        self.first_retry = first_retry
        self.pool = pool
        self.composer = composer
        self.mailer = mailer
        self.clock = clock
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.heartbeat_interval = heartbeat.total_seconds()
        self.holding: set[UUID] = set()  # the mails a pass of this worker is working on

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.heartbeat())
            tasks.create_task(
                run_on_notify(
                    self.pool,
                    repository.CHANNEL,
                    self.send_batch,
                    batch_size=self.batch_size,
                    poll_interval=self.poll_interval,
                    name="mail worker",
                )
            )

    async def send_batch(self) -> int:
        return await delivery.send_due(
            self.pool,
            self.composer,
            self.mailer,
            self.clock,
            self.id,
            self.batch_size,
            self.first_retry,
            holding=self.holding,
        )

    async def heartbeat(self) -> None:
        while True:
            try:
                if self.holding:
                    await queue.renew_leases(self.pool, self.id, list(self.holding))
                await self.report()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # Postgres away: the next beat tries again
                log.warning("mail worker heartbeat failed", extra={"error": repr(error)})
            await asyncio.sleep(self.heartbeat_interval)

    async def report(self) -> None:
        counts = await queue.depth(self.pool)
        for state in REPORTED_STATES:
            for kind in domain.SUBJECTS:
                metrics.MAIL_QUEUE_DEPTH.labels(state, kind).set(counts.get((state, kind), 0))
