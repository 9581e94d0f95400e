"""A member linked the account to a business (pin.linked.v1): record it and end the sessions
that began before the link.

The membership and the cut-off commit together, so no session older than the link ever carries
it; session.revoke.v1 then makes the gateways drop what they cached. Pins itself refuses those
sessions from the moment the link commits, so a late event costs nothing; and a session opened
after the link (the member logging in again at once) survives the event.
"""

import logging

import asyncpg

from contracts import PinLinkedV1, PinUnlinkedV1, SessionRevokeV1
from runtime.inbox import first_time
from services.accounts import repository as repo
from services.accounts.context import emit

log = logging.getLogger(__name__)


async def on_linked(pool: asyncpg.Pool, event: PinLinkedV1) -> bool:
    async with pool.acquire() as conn, conn.transaction():
        if not await first_time(conn, event):
            return False
        if not await repo.user_by_id(conn, event.user_id):
            log.warning("link for an unknown user ignored", extra={"user_id": str(event.user_id)})
            return True
        await repo.add_membership(conn, event.user_id, event.betriebsnummer, event.business_name, event.linked_at)
        ended = await repo.delete_sessions_started_before(conn, event.user_id, event.linked_at)
        if ended:
            await emit(
                conn,
                SessionRevokeV1(
                    user_id=event.user_id,
                    all_sessions=False,
                    session_ids=ended,
                    reason="business_linked",
                ),
            )
    log.info("business linked", extra={"user_id": str(event.user_id), "betriebsnummer": event.betriebsnummer})
    return True


async def on_unlinked(pool: asyncpg.Pool, event: PinUnlinkedV1) -> bool:
    """The link ended (by the member, staff or the register import): the membership goes, unless
    it is newer than the unlink (a late event after a re-link keeps the new one). The member's
    access ends at once in pins, which owns the link; the profile follows here."""
    async with pool.acquire() as conn, conn.transaction():
        if not await first_time(conn, event):
            return False
        removed = await repo.remove_membership(conn, event.user_id, event.betriebsnummer, event.unlinked_at)
    log.info(
        "business unlinked" if removed else "unlink without a membership as old ignored",
        extra={"user_id": str(event.user_id), "betriebsnummer": event.betriebsnummer},
    )
    return True
