"""The staff audit log each service keeps of the staff's actions on its own data (`staff_audit`,
created by the service's migration; accounts and pins have one): who, what, on which account id
or Betriebsnummer, when — ids only, never an address or a name. A trigger in the schema refuses
every update and the deletion of lines younger than runtime.retention.STAFF_AUDIT; `purge` is the
housekeeping's deletion of older ones. Each service names its own actions and their labels."""

from datetime import datetime
from uuid import UUID

import asyncpg

from runtime.db import rows_affected


async def record(
    conn: asyncpg.Connection,
    now: datetime,
    staff_user_id: UUID,
    action: str,
    *,
    user_id: UUID | None = None,
    betriebsnummer: str | None = None,
) -> None:
    """In the transaction of the action itself: the action and its line commit together or not at all."""
    await conn.execute(
        "insert into staff_audit (at, staff_user_id, action, user_id, betriebsnummer) values ($1, $2, $3, $4, $5)",
        now,
        staff_user_id,
        action,
        user_id,
        betriebsnummer,
    )


async def entries(conn: asyncpg.Connection, before: int | None, limit: int) -> list[asyncpg.Record]:
    """Newest first; `before`: the id of the last line of the page before."""
    return await conn.fetch(
        "select id, at, staff_user_id, action, user_id, betriebsnummer from staff_audit"
        " where ($1::bigint is null or id < $1) order by id desc limit $2",
        before,
        limit,
    )


async def purge(conn: asyncpg.Connection, before: datetime) -> int:
    result = await conn.execute("delete from staff_audit where at < $1", before)
    return rows_affected(result)
