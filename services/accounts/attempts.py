"""Checking a password someone typed: reserved first, hashed only within the limits (throttle.py)."""

from datetime import datetime

import asyncpg
from prometheus_client import Counter

from runtime.errors import ApiError
from services.accounts import repository as repo
from services.accounts import throttle
from services.accounts.context import Context
from services.accounts.hashing import Busy

LOGIN_FAILURES = Counter(
    "portal_login_failures_total", "Wrong passwords checked (logins and password changes)", ["lane"]
)
THROTTLED = (
    "Zu viele fehlgeschlagene Anmeldeversuche. Bitte warten Sie einige Minuten und versuchen Sie "
    "es dann erneut – oder nutzen Sie „Passwort vergessen“."
)


async def check(
    context: Context, key: str, client: str, device: bytes | None, stored_hash: str | None, password: str
) -> bool:
    """Whether `password` matches `stored_hash` (None: no account, the same work and a False).
    `device`: the keyed hash of a device cookie the account trusts, else None. A wrong password
    stays counted; over a limit, 429 with Retry-After and no hash at all."""
    now = context.clock()
    async with context.pool.acquire() as conn:
        attempt, lane, address = await repo.reserve_attempt(conn, key, client, device, now, *limits(now))
        await admit(conn, attempt, lane, address, now, trusted=device is not None)
    if await verify_reserved(context, attempt, device is not None, stored_hash, password) is None:
        return False
    await repo.drop_attempt(context.pool, attempt)
    return True


def limits(now: datetime) -> tuple[datetime, int, datetime, int]:
    """What a reservation counts (`repo.reserve_attempt`): since when and how many, for the
    account's lane and then the client address."""
    return now - throttle.DAY, throttle.DAILY_LIMIT, now - throttle.CLIENT_WINDOW, throttle.CLIENT_LIMIT


async def admit(
    conn: asyncpg.Connection,
    attempt: int,
    lane: list[datetime],
    address: list[datetime],
    now: datetime,
    *,
    trusted: bool,
) -> None:
    """The throttle's verdict on a reserved check, from the counts reserved with it: over a limit,
    the reservation goes again (not checked, no failure) and 429 with Retry-After."""
    wait = throttle.wait(lane, address, now, trusted=trusted)
    if wait is not None:
        await repo.drop_attempt(conn, attempt)
        raise ApiError(429, "login_throttled", THROTTLED, headers={"Retry-After": throttle.retry_after(wait)})


async def verify_reserved(
    context: Context, attempt: int, trusted: bool, stored_hash: str | None, password: str
) -> int | None:
    """The hash of an admitted check: its reservation's id when right, for the caller to drop with
    what it writes next (a login: with the new session, one round trip), or None when wrong (it
    stays counted as a failure)."""
    try:
        right = await context.hashing.verify(stored_hash, password)
    except Busy:
        await repo.drop_attempt(context.pool, attempt)  # not checked: no failure
        raise
    if not right:
        LOGIN_FAILURES.labels("trusted_device" if trusted else "other").inc()
        return None
    return attempt
