"""The events pins reads: user.confirmed.v1, for the names of fellow members in the member area.

One pull subscriber with the durable `pins_user_confirmed_v1` (polyn naming), shared by the
replicas; the message is acknowledged only after the member row and the event id committed.
"""

import logging
from collections.abc import Awaitable, Callable

import asyncpg
from faststream import AckPolicy
from faststream.exceptions import NackMessage, RejectMessage
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from pydantic import ValidationError

from contracts import UserConfirmedV1
from runtime.inbox import first_time
from runtime.metrics import EVENTS_HANDLED
from services.pins import repository as repo

log = logging.getLogger(__name__)

RETRY_DELAY = 5.0
PULL = PullSub(batch_size=1, timeout=5.0)  # see notifications.consumers: one message per fetch

Accept = Callable[[UserConfirmedV1], Awaitable[bool]]


def durable_name(subject: str) -> str:
    return "pins_" + subject.replace(".", "_")


async def accept_confirmed(pool: asyncpg.Pool, event: UserConfirmedV1) -> bool:
    """The member row and the event id commit together; False for an event handled before."""
    async with pool.acquire() as conn, conn.transaction():
        if not await first_time(conn, event):
            return False
        await repo.save_member(conn, event.user_id, event.email, event.first_name, event.last_name, event.occurred_at)
    return True


def register(broker: NatsBroker, accept: Accept) -> None:
    subject = UserConfirmedV1.SUBJECT

    @broker.subscriber(
        subject, stream=JStream(UserConfirmedV1.STREAM, declare=False), durable=durable_name(subject),
        pull_sub=PULL, ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def on_user_confirmed_v1(msg: NatsMessage) -> None:
        try:
            event = UserConfirmedV1.model_validate_json(msg.body)
        except ValidationError as error:
            log.error("unreadable event dropped", extra={"subject": subject, "problems": error.error_count()})
            EVENTS_HANDLED.labels(subject, "rejected").inc()
            raise RejectMessage() from None
        try:
            new = await accept(event)
        except Exception as error:
            log.warning("event not handled yet, will be redelivered",
                        extra={"subject": subject, "event_id": str(event.event_id), "error": repr(error)})
            EVENTS_HANDLED.labels(subject, "retry").inc()
            raise NackMessage(delay=RETRY_DELAY) from None
        EVENTS_HANDLED.labels(subject, "handled" if new else "duplicate").inc()
