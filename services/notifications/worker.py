"""The mail worker: wakes on NOTIFY (a polling fallback beside it) and sends what is due.

Replicas run it side by side: rows are claimed `FOR UPDATE SKIP LOCKED` under a lease. It
outlives Postgres and SMTP outages: it logs, waits longer each time, and carries on.
"""

import logging
from datetime import timedelta

import asyncpg

from runtime.wakeup import run_on_notify
from services.notifications import domain, handlers, repository
from services.notifications.mailer import Mailer
from services.notifications.rendering import Composer

log = logging.getLogger(__name__)


class MailWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        composer: Composer,
        mailer: Mailer,
        clock: handlers.Clock,
        *,
        poll_interval: float = 1.0,
        batch_size: int = 10,
        first_retry: timedelta = domain.FIRST_RETRY,
    ) -> None:
        self.first_retry = first_retry
        self.pool = pool
        self.composer = composer
        self.mailer = mailer
        self.clock = clock
        self.poll_interval = poll_interval
        self.batch_size = batch_size

    async def run(self) -> None:
        await run_on_notify(
            self.pool,
            repository.CHANNEL,
            self.send_batch,
            batch_size=self.batch_size,
            poll_interval=self.poll_interval,
            name="mail worker",
        )

    async def send_batch(self) -> int:
        return await handlers.send_due(
            self.pool, self.composer, self.mailer, self.clock, self.batch_size, self.first_retry
        )
