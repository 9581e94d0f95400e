"""What notifications holds about one member: their part of "Meine Daten herunterladen" (the
mails, what kind, when and how they went; never their contents or sealed secrets), and its
erasure when user.deleted.v1 arrives.

Mails carry no user id, only addresses: a member's mails are found by the address the
recipients projection knows for them, and mails to others that name them (a business told of
their link, the chamber's copy of their contact request) by that address in the context."""

from datetime import datetime
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from contracts import UserDeletedV1
from runtime import deadletters
from runtime.inbox import first_time
from services.notifications import contact, news, repository

ERASED = "gelöscht"  # the recipient of a mail to someone erased: the column may not be empty
# Mails to or about the member: to their address, or naming it anywhere in the context.
ABOUT = "(lower(recipient) = lower($1) or strpos(lower(context::text), lower($1)) > 0)"


class RecipientOut(BaseModel):
    email: str
    first_name: str
    last_name: str
    updated_at: datetime


class MailOut(BaseModel):
    kind: str
    created_at: datetime
    state: str
    sent_at: datetime | None


class NotificationsExportOut(BaseModel):
    recipient: RecipientOut | None  # None until notifications has heard of the account
    mails: list[MailOut]
    contact_requests: list[datetime]  # when the member wrote to the chamber from their address


async def export(pool: asyncpg.Pool, user_id: UUID) -> NotificationsExportOut:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        who = await conn.fetchrow(
            "select email, first_name, last_name, updated_at from recipients where user_id = $1", user_id
        )
        if who is None:
            return NotificationsExportOut(recipient=None, mails=[], contact_requests=[])
        mails = await conn.fetch(
            "select kind, created_at, state, sent_at from mails where lower(recipient) = lower($1) order by created_at",
            who["email"],
        )
        requests = await conn.fetch(
            "select created_at from contact_requests where address_key = $1 order by created_at",
            contact.address_key(who["email"]),
        )
    return NotificationsExportOut(
        recipient=RecipientOut(**dict(who)),
        mails=[MailOut(**dict(r)) for r in mails],
        contact_requests=[r["created_at"] for r in requests],
    )


async def erase(pool: asyncpg.Pool, event: UserDeletedV1, now: datetime) -> bool:
    """Mails still waiting for them are dropped; sent and failed ones stay as a count of what
    went out, without address, context or error text (an SMTP error quotes the address). A
    tombstone keeps user events that come late from bringing them back. Erased by the chamber,
    they get one last mail, whose row forgets them once settled (migration 0006).
    Commits with the event id; False for an event handled before."""
    async with pool.acquire() as conn, conn.transaction():
        if not await first_time(conn, event, lock=repository.person_lock(event.user_id)):
            return False
        await repository.bury(conn, event.user_id, now)
        await deadletters.forget_person(conn, event.user_id, event.event_id)
        # What a business is told of their unlinking names them, not their address: a mail still
        # to go keeps the news without the name, a settled one loses its contents like the others.
        await conn.execute(
            "update mails set context = case when state in ('queued', 'processing')"
            "  then (context - 'member_user_id') || jsonb_build_object('member_name', '') else '{}' end"
            " where context ->> 'member_user_id' = $1",
            str(event.user_id),
        )
        member = await repository.recipient(conn, event.user_id)
        if member is None:
            return True  # never known here: nothing more to erase
        await conn.execute("delete from recipients where user_id = $1", event.user_id)
        email = member.email
        await conn.execute(f"delete from mails where state in ('queued', 'processing') and {ABOUT}", email)
        await conn.execute(
            "update mails set recipient = $2, context = '{}', sealed = '{}', last_error = null"
            " where lower(recipient) = lower($1)",
            email,
            ERASED,
        )
        await conn.execute(
            f"update mails set context = '{{}}', sealed = '{{}}', last_error = null where {ABOUT}", email
        )
        await conn.execute("delete from contact_requests where address_key = $1", contact.address_key(email))
        for mail in news.erased_by_staff(event, member):
            await repository.add_mail(conn, mail, now)
    return True
