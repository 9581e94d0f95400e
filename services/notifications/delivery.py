"""Use case: send the mails that are due, and record what became of each.

One worker's pass: mails whose purpose ended are expired, the due ones claimed (most urgent
first), each sent only while its lease is still this worker's, and the outcome recorded. A
mail that went out tells the queue the server is back.
"""

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from runtime.logs import redact, request_context
from services.notifications import domain, metrics, queue, schedule
from services.notifications.handlers import Clock
from services.notifications.mailer import Mailer, PermanentMailError, ServerUnavailable
from services.notifications.rendering import Composer

log = logging.getLogger(__name__)


SECRET_PART = 12  # a link's parts this long may be its token (its host or path going too does no harm)


@dataclass(frozen=True)
class Failed:
    error: str
    permanent: bool
    server: bool = False  # the server failed, not this mail


async def deliver(mail: domain.QueuedMail, composer: Composer, mailer: Mailer, now: datetime) -> Failed | None:
    """Build and send one mail; None when the server took it. What a failure records is shown to
    chamber staff: it never holds what the mail carries (`scrub`)."""
    try:
        message = composer.compose(mail, now)
    except Exception as error:  # a key or template that cannot work: retrying will not help
        return Failed(_describe(error), permanent=True)
    try:
        await asyncio.wait_for(mailer.send(message), schedule.SEND_DEADLINE.total_seconds())
    except PermanentMailError as error:
        return Failed(_describe(error, composer.secrets(mail)), permanent=True)
    except (ServerUnavailable, OSError) as error:  # OSError: refused, reset, timed out
        return Failed(_describe(error, composer.secrets(mail)), permanent=False, server=True)
    except Exception as error:
        return Failed(_describe(error, composer.secrets(mail)), permanent=False)
    return None


def scrub(error: str, secrets: dict[str, str]) -> str:
    """A server that quotes the message back (some 5xx answers do) could quote a password or a
    link: the values go, before `redact` takes the usual shapes (`token=`, `Passwort: `)."""
    for value in secrets.values():
        # A link's token quoted on its own is as good as the link: its longer parts go too.
        parts = [part for part in re.split(r"[?&=/#]", value) if len(part) >= SECRET_PART]
        for part in sorted({value, *parts}, key=len, reverse=True):
            if part:
                error = error.replace(part, "[redacted]")
    return error


async def send_due(
    pool: asyncpg.Pool,
    composer: Composer,
    mailer: Mailer,
    clock: Clock,
    worker: UUID,
    limit: int = 10,
    first_retry: timedelta = schedule.FIRST_RETRY,
    holding: set[UUID] | None = None,
) -> int:
    """Send one batch of due mails as `worker`; return how many were claimed. `holding`: the
    worker's set of mails in hand, whose leases its heartbeat renews while this pass runs."""
    for kind in await queue.expire(pool, clock()):
        _count_expired(kind)
    claimed = await queue.claim_due(pool, clock(), limit, worker)
    pending = {mail.id for mail in claimed}
    holding = holding if holding is not None else set()
    holding.update(pending)
    server_down: Failed | None = None
    sent = 0
    try:
        for mail in claimed:
            with request_context(mail.request_id):  # every line about this mail names its request
                if mail.takeovers > schedule.MAX_TAKEOVERS:
                    await _fail(
                        pool, mail, worker, Failed("zu viele abgebrochene Versuche", True), clock(), first_retry
                    )
                elif server_down is not None:  # no use knocking again in this batch: wait with the others
                    await _fail(pool, mail, worker, server_down, clock(), first_retry)
                elif not await queue.hold(pool, mail.id, worker):
                    log.warning("mail taken over by another worker, not sent", extra={"mail_id": str(mail.id)})
                else:
                    failure = await deliver(mail, composer, mailer, clock())
                    if failure is None:
                        await queue.mark_sent(pool, mail.id, worker, clock())
                        sent += 1
                        metrics.MAILS_SENT.labels(mail.kind).inc()
                        log.info("mail sent", extra={"mail_id": str(mail.id), "kind": mail.kind})
                    else:
                        if failure.server:
                            server_down = failure
                        await _fail(pool, mail, worker, failure, clock(), first_retry)
            pending.discard(mail.id)
    except asyncio.CancelledError:
        # Shutting down (a deploy, say): hand back what was not sent, so it goes out at once
        # from another replica or after the restart instead of waiting for the lease.
        await asyncio.shield(queue.release(pool, list(pending), worker))
        raise
    except Exception:
        # Postgres went away mid-batch: hand back what we can; what we cannot expires with its
        # lease, which the heartbeat no longer renews, and is taken over.
        with contextlib.suppress(Exception):
            await queue.release(pool, list(pending), worker)
        raise
    finally:
        holding.difference_update(mail.id for mail in claimed)
    if sent:
        await queue.resume_waiting(pool, clock())
    return len(claimed)


async def _fail(
    pool: asyncpg.Pool, mail: domain.QueuedMail, worker: UUID, failure: Failed, now: datetime, first_retry: timedelta
) -> None:
    decision = schedule.after_failure(
        mail.attempts,
        now,
        mail.useful_until,
        permanent=failure.permanent,
        server=failure.server,
        first_retry=first_retry,
    )
    await queue.mark_failed(pool, mail.id, worker, decision, failure.error)
    metrics.MAILS_FAILED.labels(mail.kind).inc()
    outcome = "mail failed, will retry"
    if isinstance(decision, schedule.GiveUp):
        outcome = f"mail given up: {decision.state}"
        metrics.MAILS_ABANDONED.labels(mail.kind).inc()
        if decision.state == schedule.EXPIRED:
            metrics.MAILS_EXPIRED.labels(mail.kind).inc()
    log.warning(
        outcome,
        extra={"mail_id": str(mail.id), "kind": mail.kind, "attempts": mail.attempts, "error": failure.error},
    )


def _count_expired(kind: str) -> None:
    metrics.MAILS_ABANDONED.labels(kind).inc()
    metrics.MAILS_EXPIRED.labels(kind).inc()
    log.warning("mail expired unsent: its purpose ended", extra={"kind": kind})


def _describe(error: Exception, secrets: dict[str, str] | None = None) -> str:
    # Exception texts never carry the unsealed values, but redact anyway: a URL may slip in.
    return redact(scrub(f"{type(error).__name__}: {error}", secrets or {}))[:500]
