"""The staff's audit log of pins: who of the chamber's staff did what, on whom, when.

A line is written in the transaction of the action (or lookup) it records, so neither happens
without the other. It holds ids only: an erased member leaves no name or address in it. The
table refuses UPDATE and early DELETE itself (migrations/0003_staff.sql); only `purge` deletes,
after AUDIT_KEPT.
"""

from datetime import datetime
from typing import Literal
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from runtime import retention, staff_audit

# Three years, as the regular limitation period (§ 195 BGB) in which a member may ask what staff
# did with their access. The trigger in 0003_staff.sql states the same number.
AUDIT_KEPT = retention.STAFF_AUDIT

Action = Literal["business_viewed", "letter_requested", "link_ended"]
ACTION_LABELS: dict[str, str] = {
    "business_viewed": "Betrieb angesehen",
    "letter_requested": "Neuen PIN-Brief veranlasst",
    "link_ended": "Verknüpfung gelöst",
}


class AuditEntry(BaseModel):
    id: int
    at: datetime
    service: Literal["pins"] = "pins"
    staff_user_id: UUID
    action: Action
    action_label: str
    user_id: UUID | None
    betriebsnummer: str | None


class AuditOut(BaseModel):
    entries: list[AuditEntry]


async def record(
    conn: asyncpg.Connection,
    staff_user_id: UUID,
    action: Action,
    now: datetime,
    *,
    user_id: UUID | None = None,
    betriebsnummer: str | None = None,
) -> None:
    await staff_audit.record(conn, now, staff_user_id, action, user_id=user_id, betriebsnummer=betriebsnummer)


async def page(conn: asyncpg.Connection, before: int | None, limit: int) -> list[AuditEntry]:
    """Newest first; `before`: the id of the last entry of the page before."""
    rows = await staff_audit.entries(conn, before, limit)
    return [AuditEntry(**dict(r), action_label=ACTION_LABELS[r["action"]]) for r in rows]


async def purge(conn: asyncpg.Connection, now: datetime) -> int:
    return await staff_audit.purge(conn, now - AUDIT_KEPT)
