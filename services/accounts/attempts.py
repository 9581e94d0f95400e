"""Checking a password someone typed: reserved first, hashed only within the limits (throttle.py)."""

from datetime import datetime

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
    attempt = await check_reserved(context, key, client, device, stored_hash, password)
    if attempt is None:
        return False
    await repo.drop_attempt(context.pool, attempt)
    return True


async def check_reserved(
    context: Context, key: str, client: str, device: bytes | None, stored_hash: str | None, password: str
) -> int | None:
    """As `check`, but a right password leaves its reservation for the caller to drop with what it
    writes next (a login: with the new session, one round trip): its id, or None when wrong."""
    attempt = await _reserve(context, key, client, device, context.clock())
    try:
        right = await context.hashing.verify(stored_hash, password)
    except Busy:
        await repo.drop_attempt(context.pool, attempt)  # not checked: no failure
        raise
    if not right:
        LOGIN_FAILURES.labels("trusted_device" if device is not None else "other").inc()
        return None
    return attempt


async def _reserve(context: Context, key: str, client: str, device: bytes | None, now: datetime) -> int:
    async with context.pool.acquire() as conn:
        attempt, lane, address = await repo.reserve_attempt(
            conn,
            key,
            client,
            device,
            now,
            now - throttle.DAY,
            throttle.DAILY_LIMIT,
            now - throttle.CLIENT_WINDOW,
            throttle.CLIENT_LIMIT,
        )
        wait = throttle.wait(lane, address, now, trusted=device is not None)
        if wait is not None:
            await repo.drop_attempt(conn, attempt)  # refused: not checked, no failure
            raise ApiError(429, "login_throttled", THROTTLED, headers={"Retry-After": throttle.retry_after(wait)})
        return attempt
