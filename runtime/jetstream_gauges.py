"""What JetStream knows about a service's backlog, as gauges: each durable's pending and
unacknowledged messages, and how many replicas of each stream the service uses are current.

Polled in the background every few seconds (never on a request, never on a scrape) with the
service's own NATS user, which may call CONSUMER.INFO on its own durables and STREAM.INFO on its
streams (deploy/nats/accounts.conf; the same calls as runtime.bus's readiness checks). While NATS
is away the gauges keep their last values and portal_jetstream_info_errors_total counts.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from nats.js.api import ClusterInfo

from contracts.durables import durables_of
from runtime import bus, metrics

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0


class JetStreamInfo(Protocol):
    async def consumer_info(self, stream: str, consumer: str) -> Any: ...
    async def stream_info(self, name: str) -> Any: ...


def current_replicas(cluster: ClusterInfo | None) -> int:
    """The leader plus every follower that is current and online. A stream on a single server
    (no cluster info, or no peers) has its one copy."""
    if cluster is None:
        return 1
    followers = sum(1 for peer in cluster.replicas or () if peer.current and not peer.offline)
    return (1 if cluster.leader else 0) + followers


async def poll_once(js: JetStreamInfo, service: str, expected_replicas: int) -> None:
    """One round: every durable of `service`, then every stream it uses. A failure skips that
    one (its gauges keep their last value) and is counted."""
    for durable in durables_of(service):
        try:
            info = await js.consumer_info(durable.stream, durable.name)
        except Exception as error:
            metrics.JETSTREAM_INFO_ERRORS.labels("consumer").inc()
            log.debug("consumer info failed", extra={"durable": durable.name, "error": repr(error)})
            continue
        labels = (durable.stream, durable.name)
        metrics.CONSUMER_PENDING.labels(*labels).set(info.num_pending or 0)
        metrics.CONSUMER_ACK_PENDING.labels(*labels).set(info.num_ack_pending or 0)
        metrics.CONSUMER_REDELIVERED.labels(*labels).set(info.num_redelivered or 0)
    for stream in bus.streams_used(service):
        metrics.STREAM_REPLICAS_EXPECTED.labels(stream).set(expected_replicas)
        try:
            info = await js.stream_info(stream)
        except Exception as error:
            metrics.JETSTREAM_INFO_ERRORS.labels("stream").inc()
            log.debug("stream info failed", extra={"stream": stream, "error": repr(error)})
            continue
        metrics.STREAM_REPLICAS.labels(stream).set(current_replicas(info.cluster))


async def poll(
    jetstream: Callable[[], JetStreamInfo],
    service: str,
    expected_replicas: int,
    *,
    interval: float = POLL_SECONDS,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Forever, until cancelled. `jetstream()` is asked anew each round: it raises while the
    broker is not connected, which counts as an error like a failed call."""
    while True:
        try:
            await poll_once(jetstream(), service, expected_replicas)
        except Exception as error:
            metrics.JETSTREAM_INFO_ERRORS.labels("connection").inc()
            log.debug("jetstream not reachable for gauges", extra={"error": repr(error)})
        await sleep(interval)


def for_broker(broker) -> Callable[[], JetStreamInfo]:
    """The broker's JetStream context with the readiness probes' timeout, made on each call."""
    return lambda: broker.connection.jetstream(timeout=bus.INFO_TIMEOUT)
