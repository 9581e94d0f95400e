"""The JetStream gauges: what a poll sets, and that a NATS outage keeps the last values and counts."""

import asyncio

import pytest
from nats.js.api import ClusterInfo, PeerInfo
from nats.js.errors import NotFoundError

from contracts.durables import durables_of
from runtime import jetstream_gauges, metrics
from runtime.bus import streams_used


class FakeInfo:
    def __init__(self, **fields) -> None:
        self.__dict__.update(fields)


class FakeJetStream:
    def __init__(self, pending: int, cluster: ClusterInfo | None = None) -> None:
        self.pending = pending
        self.cluster = cluster
        self.failing = False

    async def consumer_info(self, stream: str, consumer: str):
        if self.failing:
            raise TimeoutError("nats away")
        return FakeInfo(num_pending=self.pending, num_ack_pending=2, num_redelivered=1)

    async def stream_info(self, name: str):
        if self.failing:
            raise NotFoundError()
        return FakeInfo(cluster=self.cluster)


def value(gauge, *labels) -> float:
    return gauge.labels(*labels)._value.get()


def errors(kind: str) -> float:
    return metrics.JETSTREAM_INFO_ERRORS.labels(kind)._value.get()


def test_current_replicas_counts_the_leader_and_current_online_followers() -> None:
    peers = [PeerInfo(name="n2", current=True, offline=False), PeerInfo(name="n3", current=False, offline=False)]
    assert jetstream_gauges.current_replicas(ClusterInfo(leader="n1", replicas=peers)) == 2
    offline = [PeerInfo(name="n2", current=True, offline=True)]
    assert jetstream_gauges.current_replicas(ClusterInfo(leader="n1", replicas=offline)) == 1
    assert jetstream_gauges.current_replicas(ClusterInfo(leader=None, replicas=[])) == 0
    assert jetstream_gauges.current_replicas(None) == 1  # one server, one copy


async def test_a_poll_sets_every_durable_and_stream_and_an_outage_keeps_the_last_values() -> None:
    service = "notifications"
    durable = durables_of(service)[0]
    stream = streams_used(service)[0]
    js = FakeJetStream(pending=7, cluster=ClusterInfo(leader="n1", replicas=[PeerInfo(name="n2", current=True)]))
    await jetstream_gauges.poll_once(js, service, expected_replicas=3)
    for each in durables_of(service):
        assert value(metrics.CONSUMER_PENDING, each.stream, each.name) == 7
    assert value(metrics.CONSUMER_ACK_PENDING, durable.stream, durable.name) == 2
    assert value(metrics.CONSUMER_REDELIVERED, durable.stream, durable.name) == 1
    assert value(metrics.STREAM_REPLICAS, stream) == 2
    assert value(metrics.STREAM_REPLICAS_EXPECTED, stream) == 3

    js.failing, js.pending = True, 99
    consumer_errors, stream_errors = errors("consumer"), errors("stream")
    await jetstream_gauges.poll_once(js, service, expected_replicas=3)
    assert value(metrics.CONSUMER_PENDING, durable.stream, durable.name) == 7
    assert value(metrics.STREAM_REPLICAS, stream) == 2
    assert errors("consumer") == consumer_errors + len(durables_of(service))
    assert errors("stream") == stream_errors + len(streams_used(service))


async def test_the_loop_survives_a_broker_that_is_not_connected() -> None:
    rounds = 0

    def not_connected():
        raise RuntimeError("not connected yet")

    async def sleep(_: float) -> None:
        nonlocal rounds
        rounds += 1
        if rounds == 3:
            raise asyncio.CancelledError

    before = errors("connection")
    with pytest.raises(asyncio.CancelledError):
        await jetstream_gauges.poll(not_connected, "pins", 1, sleep=sleep)
    assert rounds == 3 and errors("connection") == before + 3
