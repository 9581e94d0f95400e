"""What notifications keeps, and for how long, on the service's clock: a sent mail's contents
(the rendered context and the sealed secrets) go soon, a minimal record of it (kind, recipient,
state, when) stays for support's "my mail never came", then goes too; the contact form's
throttle rows go once they no longer count; and the runtime's tables (runtime.retention).
The README's retention table states these numbers."""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import asyncpg

from runtime import retention
from runtime.db import rows_affected
from services.notifications import contact, domain, schedule

log = logging.getLogger(__name__)

# Mails no worker will touch again: only these lose anything.
SETTLED = ("sent", schedule.FAILED, schedule.EXPIRED)
# Contents of a settled mail: a week covers "please send it again" and a bounce's analysis;
# the links and passwords in them expired long before.
MAIL_CONTENTS = timedelta(days=7)
# The contact form's request as support received it: as long as a support case usually lives,
# in case the chamber's mailbox lost it.
CONTACT_CONTENTS = timedelta(days=30)
CONTACT_KINDS = (domain.CONTACT_REQUEST, domain.CONTACT_COPY)
# The record without contents: half a year of "did the mail arrive, and when".
MAIL_RECORDS = timedelta(days=180)
# The contact form's throttle rows count for its window only.
CONTACT_THROTTLE = contact.WINDOW
# See runtime.retention: as long as a user event from before an erasure may still arrive.
TOMBSTONES = retention.TOMBSTONES


async def sweep(pool: asyncpg.Pool, clock: Callable[[], datetime]) -> dict[str, int]:
    """One round; what was deleted or emptied, by kind."""
    now = clock()
    async with pool.acquire() as conn:
        counts = {
            "mail_contents": rows_affected(
                await conn.execute(
                    "update mails set context = '{}', sealed = '{}'"
                    " where state = any($1::text[]) and (context <> '{}' or sealed <> '{}')"
                    "   and created_at < case when kind = any($2::text[]) then $4::timestamptz else $3 end",
                    list(SETTLED),
                    list(CONTACT_KINDS),
                    now - MAIL_CONTENTS,
                    now - CONTACT_CONTENTS,
                )
            ),
            "mail_records": rows_affected(
                await conn.execute(
                    "delete from mails where state = any($1::text[]) and created_at < $2",
                    list(SETTLED),
                    now - MAIL_RECORDS,
                )
            ),
            "contact_throttle": rows_affected(
                await conn.execute("delete from contact_requests where created_at < $1", now - CONTACT_THROTTLE)
            ),
            "tombstones": rows_affected(
                await conn.execute("delete from tombstones where deleted_at < $1", now - TOMBSTONES)
            ),
        }
        counts |= await retention.purge(conn, now)
    return counts


async def run(pool: asyncpg.Pool, clock: Callable[[], datetime]) -> None:
    await retention.every_interval(lambda: sweep(pool, clock))
