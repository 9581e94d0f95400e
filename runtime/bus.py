"""The NATS / JetStream connection through FastStream.

NATS is an untrusted network: `tls://` servers are reached over TLS (`PORTAL_NATS_CA` names a
private CA), each service logs in as its own user (user:password in `PORTAL_NATS_URL`, or
`PORTAL_NATS_CREDS`) with its own inbox prefix, and may do no more than deploy/nats/accounts.conf
grants. Streams and durables are made by ops (`python -m deploy.streams`); a service only binds
to its durables (contracts/durables.py) and reports in its readiness when a stream it uses is
missing or has fewer replicas than `PORTAL_STREAM_REPLICAS`.
"""

import logging
import ssl

from faststream.exceptions import IncorrectState
from faststream.nats import NatsBroker
from faststream.nats.message import NatsMessage
from faststream.nats.security import NatsCredentials, NatsSecurity
from nats.js.errors import NotFoundError

from contracts import STREAMS
from contracts.durables import PUBLISHES, durables_of, inbox_prefix
from runtime.logs import REQUEST_ID_HEADER, current_request_id
from runtime.outbox import BusUnavailable
from runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

INFO_TIMEOUT = 2.0  # seconds for a readiness probe's STREAM.INFO / CONSUMER.INFO


class ServiceBroker(NatsBroker):
    """A NatsBroker that knows whose it is: the service (its durables and streams come from
    contracts) and how many replicas its streams must have."""

    def __init__(self, servers: list[str], *, service: str, stream_replicas: int = 1, **options) -> None:
        super().__init__(servers, **options)
        self.service = service
        self.stream_replicas = stream_replicas


async def the_message(message: NatsMessage) -> NatsMessage:
    """The broker's decoder, so every subscriber's: the handler gets the message itself (its
    body, headers and ack), with the broker's `apply_types=False`. FastStream's injection of
    `Context("message")` runs in a worker thread for every message (a sync step of FastDepends),
    and our handlers want nothing else injected (issue 12's profile). Async: a sync decoder
    would take that thread too."""
    return message


class StreamsNotReady(RuntimeError):
    """A stream or durable that ops have not made (yet), or too few replicas."""


def create_broker(settings: ServiceSettings, service: str) -> ServiceBroker:
    client_name = f"{service}-{settings.instance}" if settings.instance else service
    return ServiceBroker(
        settings.nats_servers,
        service=service,
        stream_replicas=settings.stream_replicas,
        name=client_name,
        inbox_prefix=inbox_prefix(service),
        security=_security(settings),
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=5,
        allow_reconnect=True,
        logger=logging.getLogger(f"{client_name}.bus"),
        # FastStream's two lines per message ("Received", "Processed") at debug: runtime.consumers
        # writes one per event, with its outcome and ids. Its errors keep their level.
        log_level=logging.DEBUG,
        apply_types=False,  # every handler takes the message itself (the_message)
        decoder=the_message,
    )


def _security(settings: ServiceSettings) -> NatsSecurity | None:
    """TLS (a private CA, or the system's) and, where the server wants one, a credentials file.
    A user and password travel in the URL; FastStream keeps them out of what it logs."""
    tls = None
    if settings.nats_ca or any(s.startswith("tls://") for s in settings.nats_servers):
        tls = ssl.create_default_context(cafile=str(settings.nats_ca) if settings.nats_ca else None)
    if settings.nats_creds:
        return NatsCredentials.from_file(settings.nats_creds, ssl_context=tls)
    return NatsSecurity(ssl_context=tls) if tls else None


def streams_used(service: str) -> list[str]:
    """The streams a service reads (its durables) or writes (its subjects), in STREAMS order."""
    used = {d.stream for d in durables_of(service)}
    for pattern in PUBLISHES.get(service, ()):
        used |= {name for name, spec in STREAMS.items() if pattern in spec["subjects"]}
    return [name for name in STREAMS if name in used]


async def check_streams(broker: NatsBroker, service: str, replicas: int) -> None:
    """Raise StreamsNotReady unless every stream the service uses is there with `replicas`."""
    js = broker.connection.jetstream(timeout=INFO_TIMEOUT)
    problems = []
    for name in streams_used(service):
        try:
            info = await js.stream_info(name)
        except NotFoundError:
            problems.append(f"stream {name} missing")
            continue
        if (info.config.num_replicas or 1) < replicas:
            problems.append(f"stream {name} has {info.config.num_replicas} replicas, {replicas} expected")
    if problems:
        raise StreamsNotReady("; ".join(problems) + " (ops: python -m deploy.streams)")


async def check_durables(broker: NatsBroker, service: str) -> None:
    """Raise StreamsNotReady unless every durable of the service exists: binding to a missing
    one would try to create it, which the service's user may not."""
    js = broker.connection.jetstream(timeout=INFO_TIMEOUT)
    missing = []
    for durable in durables_of(service):
        try:
            await js.consumer_info(durable.stream, durable.name)
        except NotFoundError:
            missing.append(f"{durable.stream}/{durable.name}")
    if missing:
        raise StreamsNotReady(f"durable consumers missing: {', '.join(missing)} (ops: python -m deploy.streams)")


def publisher(broker: NatsBroker):
    """The outbox's publish: JetStream, acknowledged, `Nats-Msg-Id` = event id; True when the
    stream had the event already (a duplicate within its window). While NATS is not connected it
    raises BusUnavailable at once: nats-py would hold the message for the reconnect and time out,
    and the relay would count that as the row's failure. The request that caused the event, if
    the log context names one, travels as `X-Request-Id` (runtime.consumers reads it)."""

    async def publish(subject: str, payload: bytes, event_id: str) -> bool:
        stream = next((n for n, s in STREAMS.items() if _matches(s["subjects"], subject)), None)
        if stream is None:
            raise LookupError(f"no stream captures {subject} (contracts.STREAMS)")
        if not _connected(broker):
            raise BusUnavailable("nats not connected")
        headers = {"Nats-Msg-Id": event_id, "content-type": "application/json"}
        request_id = current_request_id()
        if request_id is not None:
            headers[REQUEST_ID_HEADER] = request_id
        ack = await broker.publish(
            payload,
            subject,
            headers=headers,
            stream=stream,
            timeout=5,
        )
        return bool(ack and ack.duplicate)

    return publish


def _connected(broker: NatsBroker) -> bool:
    try:
        return broker.connection.is_connected
    except IncorrectState:  # not connected yet
        return False


def _matches(patterns: list[str], subject: str) -> bool:
    for pattern in patterns:
        head = pattern.removesuffix(">")
        if pattern.endswith(">") and subject.startswith(head):
            return True
        if pattern == subject:
            return True
    return False
