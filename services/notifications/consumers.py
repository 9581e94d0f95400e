"""The events notifications reads: one pull subscriber per subject on JetStream.

Replicas share each durable (polyn naming: `notifications_<event>_v<N>`), so an event is
mailed once per service. The message is acknowledged only after the mail row committed.
"""

import logging
from collections.abc import Awaitable, Callable

from faststream import AckPolicy
from faststream.exceptions import NackMessage, RejectMessage
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from pydantic import ValidationError

from contracts import (
    Event,
    UserConfirmedV1,
    UserPasswordChangedV1,
    UserPasswordResetRequestedV1,
    UserRegisteredV1,
    UserRegistrationRepeatedV1,
)
from runtime.metrics import EVENTS_HANDLED

log = logging.getLogger(__name__)

SUBSCRIBED: tuple[type[Event], ...] = (
    UserRegisteredV1,
    UserRegistrationRepeatedV1,
    UserConfirmedV1,
    UserPasswordResetRequestedV1,
    UserPasswordChangedV1,
)
RETRY_DELAY = 5.0  # seconds before JetStream offers a message again whose mail did not commit

# One message per fetch: nats-py 2.16 can raise a bare asyncio.TimeoutError from a batch fetch,
# which FastStream 0.7 does not expect (it logs an error and restarts the pull task).
PULL = PullSub(batch_size=1, timeout=5.0)

Accept = Callable[[Event], Awaitable[bool]]


def durable_name(subject: str) -> str:
    return "notifications_" + subject.replace(".", "_")


def register(broker: NatsBroker, accept: Accept) -> None:
    for contract in SUBSCRIBED:
        broker.subscriber(
            contract.SUBJECT,
            stream=JStream(contract.STREAM, declare=False),
            durable=durable_name(contract.SUBJECT),
            pull_sub=PULL,
            ack_policy=AckPolicy.NACK_ON_ERROR,
        )(_handler(contract, accept))


def _handler(contract: type[Event], accept: Accept):
    subject = contract.SUBJECT

    async def handle(msg: NatsMessage) -> None:
        try:
            event = contract.model_validate_json(msg.body)
        except ValidationError as error:
            # Redelivering cannot fix it: terminate, so it neither blocks nor loops.
            log.error("unreadable event dropped",
                      extra={"subject": subject, "problems": error.error_count()})
            EVENTS_HANDLED.labels(subject, "rejected").inc()
            raise RejectMessage() from None
        try:
            new = await accept(event)
        except Exception as error:
            log.warning(
                "event not handled yet, will be redelivered",
                extra={"subject": subject, "event_id": str(event.event_id), "error": repr(error)},
            )
            EVENTS_HANDLED.labels(subject, "retry").inc()
            raise NackMessage(delay=RETRY_DELAY) from None
        EVENTS_HANDLED.labels(subject, "handled" if new else "duplicate").inc()

    handle.__name__ = f"on_{subject.replace('.', '_')}"
    return handle
