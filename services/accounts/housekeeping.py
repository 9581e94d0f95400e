"""Deleting what has expired, on the service's clock: never-confirmed registrations, ended
sessions, unused devices, old login failures, spent links, the staff audit after three years,
wrong second-factor codes past their window, and the runtime's tables
(runtime.retention). The lifetimes a member sees (unconfirmed, device) are settings; the rest
are here. The README's retention table states them all."""

import logging
from datetime import timedelta

from runtime import retention
from services.accounts import audit, otp
from services.accounts import repository as repo
from services.accounts.context import Context
from services.accounts.repository import staff as staff_repo

log = logging.getLogger(__name__)

# The login throttle looks back one day at the most (services.accounts.throttle.DAY).
LOGIN_FAILURES = timedelta(days=1)
# An expired link is kept a week, so a late click is told "expired" rather than "unknown".
SPENT_LINKS = timedelta(days=7)


async def sweep(context: Context) -> dict[str, int]:
    """One round; what was deleted, by table."""
    now = context.clock()
    async with context.pool.acquire() as conn:
        counts = await repo.purge(
            conn,
            now,
            unconfirmed_before=now - context.lifetimes.unconfirmed,
            device_unused_before=now - context.lifetimes.device,
            failures_before=now - LOGIN_FAILURES,
            links_expired_before=now - SPENT_LINKS,
        )
        counts |= await staff_repo.purge_staff(
            conn, audit_before=now - audit.RETENTION, failures_before=now - otp.FAILURE_WINDOW
        )
        counts |= await retention.purge(conn, now)
    return counts


async def run(context: Context) -> None:
    await retention.every_interval(lambda: sweep(context))
