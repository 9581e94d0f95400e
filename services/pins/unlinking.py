"""Ending a link between an account and a business: one use case for its three callers — the
member ("Verknüpfung lösen"), the chamber's staff, and the register import with --full.

The link row goes and pin.unlinked.v1 enters the outbox in the caller's transaction, so accounts
removes the membership and the business's e-mail of record is told exactly when the link ended.
The member's access ends at once: the member area reads pins' own links table.
"""

import logging
from datetime import datetime
from typing import Literal
from uuid import UUID

import asyncpg

from contracts import PinUnlinkedV1
from runtime.errors import ApiError
from services.pins import audit
from services.pins import repository as repo
from services.pins.context import Context, emit

log = logging.getLogger(__name__)

By = Literal["member", "staff", "register_import"]

NOT_LINKED = "Ihr Konto ist mit diesem Betrieb nicht verknüpft."
LINK_NOT_FOUND = "Dieses Konto ist mit diesem Betrieb nicht verknüpft."


async def end(conn: asyncpg.Connection, user_id: UUID, number: str, by: By, now: datetime) -> bool:
    """End one link inside the caller's transaction; False when there was none."""
    business = await conn.fetchrow(
        "with ended as (delete from links where user_id = $1 and betriebsnummer = $2 returning betriebsnummer)"
        " select b.name, b.email from ended join businesses b using (betriebsnummer)",
        user_id,
        number,
    )
    if business is None:
        return False
    await emit(
        conn,
        PinUnlinkedV1(
            user_id=user_id,
            betriebsnummer=number,
            business_name=business["name"],
            unlinked_by=by,
            unlinked_at=now,
            business_email=business["email"],
        ),
    )
    return True


class Unlinking:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.pool = context.pool

    async def by_member(self, user_id: UUID, number: str) -> None:
        now = self.context.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_member(conn, user_id)  # not beside a link or an erasure of theirs
            if not await end(conn, user_id, number, "member", now):
                raise ApiError(404, "not_linked", NOT_LINKED)
        log.info("link ended by the member", extra={"user_id": str(user_id), "betriebsnummer": number})

    async def by_staff(self, staff_user_id: UUID, number: str, user_id: UUID) -> None:
        now = self.context.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_member(conn, user_id)
            if not await end(conn, user_id, number, "staff", now):
                raise ApiError(404, "link_not_found", LINK_NOT_FOUND)
            await audit.record(conn, staff_user_id, "link_ended", now, user_id=user_id, betriebsnummer=number)
        log.info(
            "link ended by staff",
            extra={"user_id": str(user_id), "betriebsnummer": number, "staff_user_id": str(staff_user_id)},
        )
