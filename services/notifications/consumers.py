"""The events notifications reads, each through a durable of its own (runtime.consumers).

An event may ask for no mail, one or several; they commit with the event's id, then the
message is acknowledged.
"""

from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg

from contracts import (
    Event,
    PinLinkedV1,
    PinRequestedV1,
    PinUnlinkedV1,
    UserChangedByStaffV1,
    UserConfirmedV1,
    UserDeletedV1,
    UserPasswordChangedV1,
    UserPasswordResetRequestedV1,
    UserRegisteredV1,
    UserRegistrationRepeatedV1,
)
from runtime import consumers
from runtime.consumers import Handlers
from services.notifications import member_data
from services.notifications.handlers import accept_event

SERVICE = "notifications"
SUBSCRIBED: tuple[type[Event], ...] = (
    UserRegisteredV1,
    UserRegistrationRepeatedV1,
    UserConfirmedV1,
    UserPasswordResetRequestedV1,
    UserPasswordChangedV1,
    PinRequestedV1,  # PORTAL_PINS: the member hears their letter is on its way
    PinLinkedV1,  # PORTAL_PINS: the member and the business hear of the new link
    PinUnlinkedV1,  # PORTAL_PINS: and of its end
    UserChangedByStaffV1,  # the member hears what chamber staff changed of their account
)


def durable_name(subject: str) -> str:
    return consumers.durable_name(SERVICE, subject)


def handlers(pool: asyncpg.Pool, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Handlers:
    async def accept(event: Event) -> bool:
        return await accept_event(pool, event, clock())

    async def erase(event: UserDeletedV1) -> bool:
        return await member_data.erase(pool, event, clock())

    # user.deleted.v1 erases what the mails and the projection hold (and, erased by staff, says
    # goodbye)
    return {**dict.fromkeys((contract.SUBJECT for contract in SUBSCRIBED), accept), UserDeletedV1.SUBJECT: erase}
