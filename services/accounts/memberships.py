"""A member linked the account to a business (pin.linked.v1): record it and end every session.

The membership and the cut-off commit together, so no session older than the link ever carries
it; session.revoke.v1 then makes the gateways drop what they cached.
"""

import logging

from contracts import PinLinkedV1, SessionRevokeV1
from runtime.inbox import first_time
from services.accounts import repository as repo
from services.accounts.context import Context, emit

log = logging.getLogger(__name__)


async def on_linked(context: Context, event: PinLinkedV1) -> bool:
    async with context.pool.acquire() as conn, conn.transaction():
        if not await first_time(conn, event):
            return False
        if not await repo.user_by_id(conn, event.user_id):
            log.warning("link for an unknown user ignored", extra={"user_id": str(event.user_id)})
            return True
        await repo.add_membership(conn, event.user_id, event.betriebsnummer, event.business_name, event.linked_at)
        await repo.delete_sessions_of(conn, event.user_id)
        await emit(conn, SessionRevokeV1(user_id=event.user_id, all_sessions=True, reason="business_linked"))
    log.info("business linked", extra={"user_id": str(event.user_id), "betriebsnummer": event.betriebsnummer})
    return True
