"""The NATS / JetStream connection through FastStream.

Streams are created idempotently at start (an existing stream with other settings is updated).
Subscribers name their stream and durable explicitly; replicas of one service share the durable,
so each event is handled once per service.
"""

import logging
from datetime import timedelta

from faststream.nats import NatsBroker
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from contracts import STREAMS
from runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

DUPLICATE_WINDOW = timedelta(minutes=10)


def create_broker(settings: ServiceSettings, service: str) -> NatsBroker:
    client_name = f"{service}-{settings.instance}" if settings.instance else service
    kwargs = {}
    if settings.nats_creds:
        kwargs["user_credentials"] = str(settings.nats_creds)
    return NatsBroker(
        settings.nats_servers,
        name=client_name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=5,
        allow_reconnect=True,
        logger=logging.getLogger(f"{client_name}.bus"),
        **kwargs,
    )


async def ensure_streams(broker: NatsBroker, names: list[str] | None = None) -> None:
    js = broker.connection.jetstream()
    for name in names or list(STREAMS):
        spec = STREAMS[name]
        config = StreamConfig(
            name=name,
            subjects=spec["subjects"],
            storage=StorageType.FILE,
            max_age=spec["max_age_days"] * 86400,
            duplicate_window=DUPLICATE_WINDOW.total_seconds(),
        )
        try:
            await js.stream_info(name)
            continue  # an existing stream is the operator's: replicas, limits and placement stay
        except NotFoundError:
            pass
        try:
            await js.add_stream(config)
            log.info("stream created", extra={"stream": name})
        except Exception as error:  # another replica created it first
            if "already in use" not in str(error):
                raise


def publisher(broker: NatsBroker):
    """The outbox relay's publish: JetStream, acknowledged, `Nats-Msg-Id` = event id."""

    async def publish(subject: str, payload: bytes, event_id: str) -> None:
        stream = next(n for n, s in STREAMS.items() if _matches(s["subjects"], subject))
        await broker.publish(
            payload,
            subject,
            headers={"Nats-Msg-Id": event_id, "content-type": "application/json"},
            stream=stream,
            timeout=5,
        )

    return publish


def _matches(patterns: list[str], subject: str) -> bool:
    for pattern in patterns:
        head = pattern.removesuffix(">")
        if pattern.endswith(">") and subject.startswith(head):
            return True
        if pattern == subject:
            return True
    return False
