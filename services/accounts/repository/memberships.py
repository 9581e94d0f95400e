"""The businesses a user is linked to, as pins' events tell."""

from datetime import datetime
from uuid import UUID

import asyncpg


async def add_membership(
    conn: asyncpg.Connection, user_id: UUID, betriebsnummer: str, business_name: str, linked_at: datetime
) -> None:
    await conn.execute(
        "insert into memberships (user_id, betriebsnummer, business_name, linked_at) values ($1, $2, $3, $4)"
        " on conflict (user_id, betriebsnummer) do update set business_name = excluded.business_name",
        user_id,
        betriebsnummer,
        business_name,
        linked_at,
    )


async def remove_membership(
    conn: asyncpg.Connection, user_id: UUID, betriebsnummer: str, unlinked_at: datetime
) -> bool:
    """Only a link made before the unlink: a late event must not end a newer re-link."""
    removed = await conn.fetchval(
        "delete from memberships where user_id = $1 and betriebsnummer = $2 and linked_at <= $3 returning true",
        user_id,
        betriebsnummer,
        unlinked_at,
    )
    return bool(removed)


async def memberships(conn: asyncpg.Connection, user_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "select betriebsnummer, business_name, linked_at from memberships where user_id = $1 order by linked_at",
        user_id,
    )
