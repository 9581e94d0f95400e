"""Reserving a guess before it is checked, so the throttle holds when attempts come all at once.

A PIN, or a Betriebsnummer asked for a letter, is checked only after its attempt is reserved: in
one transaction, under advisory locks on the member, the client address and the business, the
attempts in the windows are counted (reserved ones included) and the attempt is either refused —
429 with Retry-After, nothing checked — or written. N parallel attempts thus check at most the
allowance. The written row is the failure; an attempt that turns out to be no guess (a right PIN,
even a used or expired one; a Betriebsnummer of the register) releases it, so success never counts.
Should the check itself fail, the row stays: a guess that crashed is still a guess.
The rules, and why they are what they are, are throttle.py's.
"""

import logging
from datetime import datetime
from uuid import UUID

from prometheus_client import Counter

from runtime.errors import ApiError
from services.pins import domain, throttle
from services.pins import repository as repo
from services.pins.context import Context

log = logging.getLogger(__name__)

UNDER_ATTACK = Counter("pins_businesses_under_attack_total", "Link attempts on a business past its daily failure limit")


async def reserve(
    context: Context, user_id: UUID, client: str, number: str, now: datetime, *, code: str, message: str
) -> int:
    """The reserved attempt's id, or an ApiError 429 with `message` (a German sentence with
    `{until}`) when the allowance is used up."""
    limits = context.link_limits
    async with context.pool.acquire() as conn, conn.transaction():
        await repo.lock_attempts(
            conn,
            [f"pins:attempts:member:{user_id}", f"pins:attempts:client:{client}", f"pins:attempts:business:{number}"],
        )
        failures = await repo.failures(conn, user_id, client, number, now, limits)
        if throttle.under_attack(failures, limits):
            UNDER_ATTACK.inc()
            log.warning(
                "many failed links for one business", extra={"betriebsnummer": number, "failures": failures.business}
            )
        wait = throttle.wait(failures, number, now, limits)
        if wait is not None:
            raise ApiError(
                429,
                code,
                message.format(until=domain.local_time(now + wait)),
                headers={"Retry-After": str(int(wait.total_seconds()) + 1)},
            )
        return await repo.reserve_attempt(conn, user_id, client, number, now)
