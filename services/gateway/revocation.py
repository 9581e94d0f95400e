"""`session.revoke.v1`: every gateway replica drops what it cached of the ended sessions.

Accounts has already ended them in its database; this only shortens how long a cached entry
may still be honoured (at most the cache lifetime when an event is missed). A broadcast: each
replica holds a plain subscription to the subject (no queue group), which hears every message
accounts publishes into PORTAL_SESSIONS, so the internet-facing gateway needs no JetStream API
at all: its NATS user may subscribe to this one subject and nothing else. A message sent while
a replica is disconnected is missed, which the cache lifetime bounds."""

import logging

from faststream import AckPolicy
from faststream.nats import NatsBroker
from faststream.nats.message import NatsMessage
from pydantic import ValidationError

from contracts import SessionRevokeV1
from runtime.metrics import EVENTS_HANDLED
from services.gateway.session_cache import SessionCache

log = logging.getLogger(__name__)

SUBJECT = SessionRevokeV1.SUBJECT


def apply_revoke(cache: SessionCache, event: SessionRevokeV1) -> int:
    if event.all_sessions:
        # The session that stays is dropped too: it simply resolves again, and so picks up what
        # changed with it (after a password change, must_change_password is false now).
        return cache.drop_user(event.user_id)
    return cache.drop_sessions(event.user_id, event.session_ids)


def handle_revoke(cache: SessionCache, body: bytes) -> None:
    """Never raises: a message that cannot be read is logged and dropped."""
    try:
        event = SessionRevokeV1.model_validate_json(body)
    except ValidationError as error:
        log.error("unreadable event dropped", extra={"subject": SUBJECT, "problems": error.error_count()})
        EVENTS_HANDLED.labels(SUBJECT, "rejected").inc()
        return
    dropped = apply_revoke(cache, event)
    log.debug("sessions dropped", extra={"event_id": str(event.event_id), "dropped": dropped})
    EVENTS_HANDLED.labels(SUBJECT, "handled").inc()


def subscribe(broker: NatsBroker, cache: SessionCache) -> None:
    async def on_session_revoke_v1(msg: NatsMessage) -> None:
        handle_revoke(cache, msg.body)

    # The message arrives with the publisher's reply inbox (accounts' JetStream publish waits
    # there for the stream's ack): never answer or "ack" it, or accounts reads an empty reply.
    broker.subscriber(SUBJECT, no_reply=True, ack_policy=AckPolicy.MANUAL)(on_session_revoke_v1)
