"""Subscribing a service to an event: a JetStream pull consumer with a durable per service.

Replicas of a service share the durable (polyn naming: `<service>_<event>_v<N>`), so each event
is handled once per service. The durables are contract data (contracts/durables.py): ops create
them (`python -m deploy.streams`) and a service only binds to its own, pulling into its own inbox,
as its NATS user allows. The handler commits its work with the event's id (runtime.inbox)
and the message is acknowledged only after that; a failure is redelivered after a pause, an
unreadable message is terminated, so it neither blocks nor loops.
"""

import logging
from collections.abc import Awaitable, Callable

from faststream import AckPolicy
from faststream.exceptions import NackMessage, RejectMessage
from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub
from pydantic import ValidationError

from contracts import Event
from contracts.durables import durable_for, inbox_prefix
from runtime.metrics import EVENTS_HANDLED

log = logging.getLogger(__name__)

RETRY_DELAY = 5.0  # seconds before JetStream offers again a message whose work did not commit

# One message per fetch: nats-py 2.16 can raise a bare asyncio.TimeoutError from a batch fetch,
# which FastStream 0.7 does not expect (it logs an error and restarts the pull task).
PULL = PullSub(batch_size=1, timeout=5.0)

Accept = Callable[[Event], Awaitable[bool]]  # True: handled now; False: handled before


def durable_name(service: str, subject: str) -> str:
    return durable_for(service, subject).name


def subscribe(broker: NatsBroker, service: str, contract: type[Event], accept: Accept) -> None:
    durable = durable_for(service, contract.SUBJECT)  # LookupError: not in contracts/durables.py
    # FastStream binds when the durable exists (CONSUMER.INFO); runtime.service starts the
    # subscribers only once it does, so the create it would otherwise try never happens.
    broker.subscriber(
        contract.SUBJECT,
        stream=JStream(durable.stream, declare=False),
        durable=durable.name,
        pull_sub=PULL,
        inbox_prefix=f"{inbox_prefix(service)}.".encode(),
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )(_handler(contract, accept))


def _handler(contract: type[Event], accept: Accept):
    subject = contract.SUBJECT

    async def handle(msg: NatsMessage) -> None:
        try:
            event = contract.model_validate_json(msg.body)
        except ValidationError as error:
            log.error("unreadable event dropped", extra={"subject": subject, "problems": error.error_count()})
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
