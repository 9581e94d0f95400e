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

from runtime import retention

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
    await conn.execute(
        "insert into staff_audit (at, staff_user_id, action, user_id, betriebsnummer) values ($1, $2, $3, $4, $5)",
        now,
        staff_user_id,
        action,
        user_id,
        betriebsnummer,
    )


async def page(conn: asyncpg.Connection, before: int | None, limit: int) -> list[AuditEntry]:
    """Newest first; `before`: the id of the last entry of the page before."""
    rows = await conn.fetch(
        "select id, at, staff_user_id, action, user_id, betriebsnummer from staff_audit"
        " where ($1::bigint is null or id < $1) order by id desc limit $2",
        before,
        limit,
    )
    return [AuditEntry(**dict(r), action_label=ACTION_LABELS[r["action"]]) for r in rows]


async def purge(conn: asyncpg.Connection, now: datetime) -> int:
    result = await conn.execute("delete from staff_audit where at < $1", now - AUDIT_KEPT)
    return int(result.rsplit(" ", 1)[-1])
