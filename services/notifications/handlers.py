"""Use cases of the intake: queue the mails an event or a contact request asks for. Sending them
is `delivery`'s."""

import logging
from collections.abc import Callable
from datetime import datetime
from uuid import uuid4

import asyncpg

from contracts import Event
from runtime.inbox import first_time
from runtime.sessions import SessionUser
from services.notifications import contact, domain, metrics, repository

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


async def accept_event(pool: asyncpg.Pool, event: Event, now: datetime) -> bool:
    """The event, what it tells about its user and its mails commit together; False for an
    event handled before.

    A pin event's member is looked up in the recipients projection. Someone it does not know
    gets no mail: that is logged and the event is done (it is not redelivered in a loop).
    """
    update = domain.recipient_from(event)
    wanted = domain.recipient_needed(event)
    member = None
    if wanted is None:  # a user event: marker, projection and mails in one call
        lock = repository.person_lock(update.user_id) if update is not None else None
        async with pool.acquire() as conn:
            added = await repository.record_event(conn, event, lock, update, domain.mails_for(event), now)
        if added is False:
            return False
    else:  # a pin event (none tells about its person): the member is looked up for the mails
        async with pool.acquire() as conn, conn.transaction():
            if not await first_time(conn, event):
                return False
            member = await repository.recipient(conn, wanted)
            added = await repository.record(conn, None, domain.mails_for(event, member), now)
    if added is None:  # a user event that arrives after the person was erased: no row, no mail
        metrics.MAILS_SKIPPED.labels(event.SUBJECT, "erased").inc()
        log.info("event about an erased person, nothing kept", extra={"event_id": str(event.event_id)})
        return True
    if wanted is not None and member is None:
        metrics.MAILS_SKIPPED.labels(event.SUBJECT, "unknown_recipient").inc()
        log.warning(
            "member unknown to notifications, no mail to them",
            extra={"subject": event.SUBJECT, "event_id": str(event.event_id), "user_id": str(wanted)},
        )
    for kind in added:
        metrics.MAILS_QUEUED.labels(kind).inc()
    return True


async def accept_contact(
    pool: asyncpg.Pool,
    request: contact.ContactRequest,
    user: SessionUser | None,
    client: str,
    support_email: str,
    now: datetime,
    limits: contact.Limits = contact.Limits(),
) -> contact.TooMany | None:
    """The mails of one contact request commit together with the request that counts against
    the limits; None when queued, TooMany (nothing stored) when over a limit.

    A signed-in `user` gets the copy at the address the recipients projection knows for them;
    one it does not know gets none (logged), like anybody not signed in."""
    key = contact.address_key(request.email)
    request_id = uuid4()
    async with pool.acquire() as conn, conn.transaction():
        await repository.lock_contact_keys(conn, client, key)
        by_client, by_address = await repository.recent_contacts(conn, client, key, now - contact.WINDOW)
        wait = contact.wait_before_next(by_client, by_address, now, limits)
        if wait is not None:
            metrics.CONTACT_REFUSED.labels("sender").inc()
            return contact.TooMany(wait, everyone=False)
        await repository.lock_all_contacts(conn)
        latest = await repository.latest_contacts(conn, now - contact.WINDOW, limits.per_hour)
        wait = contact.wait_for_everyone(latest, now, limits)
        if wait is not None:
            metrics.CONTACT_REFUSED.labels("everyone").inc()
            return contact.TooMany(wait, everyone=True)
        member = await repository.recipient(conn, user.user_id) if user is not None else None
        await repository.add_contact(conn, request_id, client, key, now, now - contact.WINDOW)
        mails = contact.mails_for_contact(request, request_id, support_email, now, member)
        for mail in mails:
            await repository.add_mail(conn, mail, now)
    for mail in mails:
        metrics.MAILS_QUEUED.labels(mail.kind).inc()
    if user is not None and member is None:
        metrics.MAILS_SKIPPED.labels("contact", "unknown_recipient").inc()
        log.warning(
            "signed-in sender unknown to notifications, no copy",
            extra={"contact_request_id": str(request_id), "user_id": str(user.user_id)},
        )
    log.info("contact request queued", extra={"contact_request_id": str(request_id)})
    return None
