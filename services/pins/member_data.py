"""What pins holds about one member: their part of "Meine Daten herunterladen", and its erasure
when user.deleted.v1 arrives. A business they were linked to keeps its data and its letters;
only who asked for or used a letter is forgotten."""

from datetime import datetime
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from contracts import UserDeletedV1
from runtime import deadletters
from runtime.inbox import first_time
from services.pins import repository as repo


class MemberOut(BaseModel):
    email: str
    first_name: str
    last_name: str
    confirmed_at: datetime


class LinkOut(BaseModel):
    betriebsnummer: str
    business_name: str
    linked_at: datetime


class LetterOut(BaseModel):
    id: UUID
    betriebsnummer: str
    reason: str
    created_at: datetime
    valid_until: datetime
    used_at: datetime | None
    superseded_at: datetime | None


class LinkFailureOut(BaseModel):
    betriebsnummer: str
    at: datetime


class PinsExportOut(BaseModel):
    member: MemberOut | None  # None until pins has heard of the confirmation
    links: list[LinkOut]
    letters_requested: list[LetterOut]
    failed_link_attempts: list[LinkFailureOut]


async def export(pool: asyncpg.Pool, user_id: UUID) -> PinsExportOut:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        member = await conn.fetchrow(
            "select email, first_name, last_name, confirmed_at from members where user_id = $1", user_id
        )
        links = await conn.fetch(
            "select l.betriebsnummer, b.name as business_name, l.linked_at from links l"
            " join businesses b using (betriebsnummer) where l.user_id = $1 order by l.linked_at",
            user_id,
        )
        letters = await conn.fetch(
            "select id, betriebsnummer, reason, created_at, valid_until, used_at, superseded_at from pin_letters"
            " where requested_by = $1 order by created_at",
            user_id,
        )
        failures = await conn.fetch(
            "select betriebsnummer, at from link_failures where user_id = $1 order by at", user_id
        )
    return PinsExportOut(
        member=MemberOut(**dict(member)) if member else None,
        links=[LinkOut(**dict(r)) for r in links],
        letters_requested=[LetterOut(**dict(r)) for r in letters],
        failed_link_attempts=[LinkFailureOut(**dict(r)) for r in failures],
    )


async def erase(pool: asyncpg.Pool, event: UserDeletedV1) -> bool:
    """user.deleted.v1: the erasure and the event id commit together; False for an event handled
    before. The letters stay with their business (its record), anonymised. A tombstone keeps a
    user.confirmed.v1 that arrives after this (the durables are not ordered) from re-creating them."""
    async with pool.acquire() as conn, conn.transaction():
        if not await first_time(conn, event):
            return False
        await repo.lock_member(conn, event.user_id)  # a request or link of theirs under way finishes first
        await conn.execute("delete from links where user_id = $1", event.user_id)
        await conn.execute("update pin_letters set requested_by = null where requested_by = $1", event.user_id)
        await conn.execute("update pin_letters set used_by = null where used_by = $1", event.user_id)
        await conn.execute("delete from link_failures where user_id = $1", event.user_id)
        await conn.execute("delete from members where user_id = $1", event.user_id)
        await repo.bury(conn, event.user_id, event.occurred_at)
        await deadletters.forget_person(conn, event.user_id, event.event_id)
    return True
