"""Subscribing a service to its events: a JetStream pull consumer with a durable per event.

Replicas of a service share the durable (polyn naming: `<service>_<event>_v<N>`), so each event
is handled once per service. The durables are contract data (contracts/durables.py): ops create
them (`python -m deploy.streams`) and a service only binds to its own, pulling into its own inbox,
as its NATS user allows. The handler commits its work with the event's id (runtime.inbox) and the
message is acknowledged only after that. A handler that fails gives no answer, so JetStream
offers the message again after the durable's backoff while the messages behind it pass; the
last try's failure, and a message that does not parse, go into the service's dead-letter table
(runtime.deadletters, rules in runtime.redelivery), and only once that row committed is the
message terminated. Nothing is dropped with a log line alone.

One way for every service: `consume(broker, service, handlers)` in its composition root, where
`handlers(pool)` gives the use case for each event its durables read; `dead-letters retry` on
the command line hands a stored message to the same function.
"""

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

import asyncpg
from aiohttp import web
from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.message import NatsMessage
from pydantic import ValidationError

from contracts import EVENTS_BY_SUBJECT, Event
from contracts.durables import Durable, durable_for, durables_of, inbox_prefix
from runtime import redelivery
from runtime.deadletters import DeadLetter, DeadLetters
from runtime.logs import REQUEST_ID_HEADER, request_context
from runtime.metrics import EVENTS_HANDLED
from runtime.redelivery import Kind
from runtime.service import POOL, stop_task

log = logging.getLogger(__name__)

# One message per fetch: nats-py 2.16 can raise a bare asyncio.TimeoutError from a batch fetch,
# which FastStream 0.7 does not expect (it logs an error and restarts the pull task).
PULL = PullSub(batch_size=1, timeout=5.0)
LIMIT_TTL = 60.0  # seconds a durable's max_deliver, as the server has it, is trusted

Accept = Callable[[Event], Awaitable[bool]]  # True: handled now; False: handled before
Handlers = Mapping[str, Accept]  # by subject: the use case for each event a service reads
MakeHandlers = Callable[[asyncpg.Pool], Handlers]
MaxDeliver = Callable[[], Awaitable[int]]


class DeadLetterSink(Protocol):
    async def put(self, letter: DeadLetter) -> int: ...


def durable_name(service: str, subject: str) -> str:
    return durable_for(service, subject).name


def consume(broker: NatsBroker, service: str, make: MakeHandlers):
    """Subscribe `service` to every event its durables read; return the cleanup context that
    binds the handlers and the dead-letter table to the pool. Put it after the pool's context
    and before NATS': a message can arrive as soon as the subscribers start."""
    bound = _Bound(service, make)
    for durable in durables_of(service):
        subscribe(
            broker,
            service,
            EVENTS_BY_SUBJECT[durable.subject],
            bound.accept_for(durable.subject),
            bound,
            max_deliver=_ServerLimit(broker, durable),
        )

    async def context(app: web.Application):
        store = bound.bind(app[POOL])
        watching = asyncio.create_task(store.watch())
        yield
        await stop_task(watching)

    return context


def subscribe(
    broker: NatsBroker,
    service: str,
    contract: type[Event],
    accept: Accept,
    dead_letters: DeadLetterSink,
    *,
    max_deliver: MaxDeliver | None = None,
) -> None:
    """`max_deliver`: the durable's limit, asked when a message fails (default: the contract's)."""
    durable = durable_for(service, contract.SUBJECT)  # LookupError: not in contracts/durables.py
    # FastStream binds when the durable exists (CONSUMER.INFO); runtime.service starts the
    # subscribers only once it does, so the create it would otherwise try never happens.
    broker.subscriber(
        contract.SUBJECT,
        stream=JStream(durable.stream, declare=False),
        durable=durable.name,
        pull_sub=PULL,
        inbox_prefix=f"{inbox_prefix(service)}.".encode(),
        ack_policy=AckPolicy.MANUAL,  # every answer, and the silence of a failure, is chosen below
    )(_handler(durable, contract, accept, dead_letters, max_deliver or _contract_limit(durable)))


def _handler(
    durable: Durable, contract: type[Event], accept: Accept, dead_letters: DeadLetterSink, max_deliver: MaxDeliver
):
    subject = contract.SUBJECT

    async def handle(msg: NatsMessage) -> None:
        # The request that caused the event (runtime.bus.publisher): the handler's log lines and
        # the events and rows it writes name it too. request_context drops an unsafe value.
        with request_context((msg.headers or {}).get(REQUEST_ID_HEADER)):
            await handle_one(msg)

    async def handle_one(msg: NatsMessage) -> None:
        delivery = _Delivery.of(msg, durable)
        try:
            event = contract.model_validate_json(msg.body)
        except ValidationError as error:
            reason = redelivery.unreadable(subject, error)
            await _give_up(msg, delivery, dead_letters, reason, Kind.UNREADABLE, _event_id(msg.body))
            return
        if delivery.count > 1 and redelivery.unanswered(delivery.count, await max_deliver()):
            reason = redelivery.never_answered(delivery.count)
            await _give_up(msg, delivery, dead_letters, reason, Kind.UNANSWERED, event.event_id)
            return
        try:
            new = await accept(event)
        except Exception as error:
            if redelivery.give_up(delivery.count, await max_deliver()):
                reason = redelivery.failed(delivery.count, error)
                await _give_up(msg, delivery, dead_letters, reason, Kind.FAILED, event.event_id)
                return
            # No answer: JetStream offers it again after the durable's backoff, and the
            # messages behind it are not held up meanwhile.
            log.warning(
                "event not handled yet, will be redelivered",
                extra={
                    "subject": subject,
                    "event_id": str(event.event_id),
                    "delivery": delivery.count,
                    "error": repr(error),
                },
            )
            EVENTS_HANDLED.labels(subject, "retry").inc()
            return
        await msg.ack()
        EVENTS_HANDLED.labels(subject, "handled" if new else "duplicate").inc()
        # One line per event: with the request id of the log context, a request can be followed here.
        log.info("event handled", extra={"subject": subject, "event_id": str(event.event_id), "new": new})

    handle.__name__ = f"on_{subject.replace('.', '_')}"
    return handle


async def _give_up(
    msg: NatsMessage, delivery: "_Delivery", sink: DeadLetterSink, reason: str, kind: Kind, event_id: UUID | None
) -> None:
    """Into the dead-letter table, then terminated: never the other way round. If the row
    cannot be written, the message gets no answer and comes back while JetStream has a
    delivery left for it."""
    where = {"subject": delivery.subject, "stream": delivery.stream, "sequence": delivery.sequence}
    letter = DeadLetter(
        consumer=delivery.consumer,
        stream=delivery.stream,
        subject=delivery.subject,
        sequence=delivery.sequence,
        published_at=delivery.published_at,
        payload=msg.body,
        reason=reason,
        kind=kind,
        deliveries=delivery.count,
        event_id=event_id,
    )
    try:
        id = await sink.put(letter)
    except Exception as error:
        log.error(
            "dead letter not written; the message stays in its stream",
            extra={**where, "kind": str(kind), "delivery": delivery.count, "error": repr(error)},
        )
        EVENTS_HANDLED.labels(delivery.subject, "retry").inc()
        return
    await msg.reject()  # +TERM: JetStream offers it no more
    EVENTS_HANDLED.labels(delivery.subject, "dead_letter").inc()
    log.error(
        "message dead-lettered",
        extra={**where, "dead_letter": id, "kind": str(kind), "event_id": str(event_id), "deliveries": delivery.count},
    )


class _Delivery:
    """What JetStream says about one delivery (its ack subject); a message from elsewhere (an
    in-memory test broker) counts as a first delivery of the durable's stream."""

    def __init__(self, durable: Durable, count: int, sequence: int, published_at: datetime) -> None:
        self.consumer, self.stream, self.subject = durable.name, durable.stream, durable.subject
        self.count, self.sequence, self.published_at = count, sequence, published_at

    @classmethod
    def of(cls, msg: NatsMessage, durable: Durable) -> "_Delivery":
        raw = msg.raw_message
        if not (raw.reply or "").startswith("$JS.ACK."):
            return cls(durable, 1, 0, datetime.now(UTC))
        meta = raw.metadata
        return cls(durable, meta.num_delivered, meta.sequence.stream, meta.timestamp)


def _event_id(body: bytes) -> UUID | None:
    """The id of a message that does not parse as a whole, if it names one."""
    try:
        return UUID(str(json.loads(body)["event_id"]))
    except Exception:
        return None


def _contract_limit(durable: Durable) -> MaxDeliver:
    async def limit() -> int:
        return durable.redelivery.max_deliver if durable.redelivery else -1

    return limit


class _ServerLimit:
    """The durable's max_deliver as the server has it (ops may have tuned it), asked at most
    once a minute, and only when a message failed; the contract's when the server cannot say."""

    def __init__(self, broker: NatsBroker, durable: Durable) -> None:
        self.broker, self.durable = broker, durable
        self.value: int | None = None
        self.asked = 0.0

    async def __call__(self) -> int:
        if self.value is None or time.monotonic() - self.asked > LIMIT_TTL:
            try:
                js = self.broker.connection.jetstream(timeout=2)
                info = await js.consumer_info(self.durable.stream, self.durable.name)
                self.value = info.config.max_deliver or -1
            except Exception as error:
                log.warning("durable's limits unknown", extra={"durable": self.durable.name, "error": repr(error)})
                if self.value is None:
                    return await _contract_limit(self.durable)()
            self.asked = time.monotonic()
        return self.value


class _Bound:
    """A service's handlers and dead-letter table, from the pool once the app has one."""

    def __init__(self, service: str, make: MakeHandlers) -> None:
        self.service, self.make = service, make
        self.handlers: Handlers | None = None
        self.store: DeadLetters | None = None

    def bind(self, pool: asyncpg.Pool) -> DeadLetters:
        handlers = self.make(pool)
        read = {d.subject for d in durables_of(self.service)}
        if set(handlers) != read:
            raise RuntimeError(f"{self.service} handles {sorted(handlers)} but its durables read {sorted(read)}")
        self.handlers, self.store = handlers, DeadLetters(pool, self.service)
        return self.store

    def accept_for(self, subject: str) -> Accept:
        async def accept(event: Event) -> bool:
            return await self._ready().handlers[subject](event)

        return accept

    async def put(self, letter: DeadLetter) -> int:
        return await self._ready().store.put(letter)

    def _ready(self) -> "_Bound":
        if self.handlers is None or self.store is None:
            raise RuntimeError("consumers used before the app bound them to its pool")
        return self
