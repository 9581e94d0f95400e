"""The events pins reads: user.confirmed.v1, for the names of fellow members in the member area,
and user.deleted.v1, to erase them (durables `pins_user_*_v1` through runtime.consumers)."""

from functools import partial

import asyncpg

from contracts import UserConfirmedV1, UserDeletedV1
from runtime import consumers
from runtime.consumers import Handlers
from runtime.inbox import first_time
from services.pins import member_data
from services.pins import repository as repo

SERVICE = "pins"


def durable_name(subject: str) -> str:
    return consumers.durable_name(SERVICE, subject)


async def accept_confirmed(pool: asyncpg.Pool, event: UserConfirmedV1) -> bool:
    """The member row and the event id commit together; False for an event handled before. A
    member erased already (user.deleted.v1 came first) stays erased."""
    async with pool.acquire() as conn, conn.transaction():
        if not await first_time(conn, event):
            return False
        await repo.lock_member(conn, event.user_id)  # not beside their erasure
        if await repo.buried(conn, event.user_id):
            return True
        await repo.save_member(conn, event.user_id, event.email, event.first_name, event.last_name, event.occurred_at)
    return True


def handlers(pool: asyncpg.Pool) -> Handlers:
    return {
        UserConfirmedV1.SUBJECT: partial(accept_confirmed, pool),
        UserDeletedV1.SUBJECT: partial(member_data.erase, pool),
    }
