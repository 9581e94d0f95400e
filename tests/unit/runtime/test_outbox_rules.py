import argparse
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from faststream.nats import NatsBroker

from contracts import ALL_EVENTS, EVENTS_BY_SUBJECT, PinLinkedV1, SessionRevokeV1
from runtime import bus, outbox_replay
from runtime.outbox import KEEP_PUBLISHED, BusUnavailable, OutboxRelay
from runtime.outbox_rules import AGGREGATE_FIELDS, URGENT, aggregate_key, retry_delay


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.SUBJECT)
def test_every_event_belongs_to_an_aggregate_whose_order_is_kept(event) -> None:
    field = next(f for prefix, f in AGGREGATE_FIELDS.items() if event.SUBJECT.startswith(prefix))
    assert event.model_fields[field].is_required()


def test_a_members_events_and_a_businesses_events_are_aggregates_of_their_own() -> None:
    user = uuid4()
    linked = PinLinkedV1(user_id=user, betriebsnummer="4711", business_name="Muster GmbH", linked_at=datetime.now(UTC))
    revoked = SessionRevokeV1(user_id=user, all_sessions=True, reason="logout")
    assert aggregate_key(linked) == "pin:4711"
    assert aggregate_key(revoked) == f"session:{user}"


def test_a_failed_row_waits_longer_each_time_but_never_more_than_a_minute() -> None:
    waits = [retry_delay(n).total_seconds() for n in range(1, 10)]
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert retry_delay(10_000) == timedelta(seconds=60)


def test_published_rows_are_kept_as_long_as_the_longest_stream_keeps_events() -> None:
    assert KEEP_PUBLISHED == timedelta(days=30)


def test_a_lease_shorter_than_a_publish_is_refused() -> None:
    with pytest.raises(ValueError):
        OutboxRelay(None, None, "accounts", lease=timedelta(seconds=5), publish_timeout=5)


async def test_the_publisher_says_at_once_when_nats_is_not_connected() -> None:
    publish = bus.publisher(NatsBroker("nats://127.0.0.1:1"))
    with pytest.raises(BusUnavailable):
        await publish("user.registered.v1", b"{}", str(uuid4()))
    with pytest.raises(LookupError, match="no stream captures"):
        await publish("nobody.listens.v1", b"{}", str(uuid4()))


def test_replay_times_are_iso_8601_and_utc_without_an_offset() -> None:
    assert outbox_replay.timestamp("2026-11-28T14:00") == datetime(2026, 11, 28, 14, tzinfo=UTC)
    berlin = outbox_replay.timestamp("2026-11-28T14:00+01:00")
    assert berlin.utcoffset() == timedelta(hours=1) and berlin == datetime(2026, 11, 28, 13, tzinfo=timezone.utc)
    with pytest.raises(argparse.ArgumentTypeError):
        outbox_replay.timestamp("gestern")


def test_replay_offers_the_streams_the_service_publishes_to() -> None:
    parser = argparse.ArgumentParser()
    outbox_replay.arguments("pins")(parser)
    args = parser.parse_args(["replay", "--since", "2026-11-28", "--stream", "PORTAL_PINS"])
    assert args.stream == "PORTAL_PINS" and args.since == datetime(2026, 11, 28, tzinfo=UTC)
    with pytest.raises(SystemExit):
        parser.parse_args(["replay", "--since", "2026-11-28", "--stream", "PORTAL_USERS"])
    assert outbox_replay.wanted("pin.requested.v1", "PORTAL_PINS")
    assert not outbox_replay.wanted("user.registered.v1", "PORTAL_PINS")
    assert outbox_replay.wanted("user.registered.v1", None)


def test_the_urgent_subjects_are_events_there_are_and_none_of_a_burst():
    assert URGENT <= set(EVENTS_BY_SUBJECT)  # a renamed subject would lose its lane silently
    assert "user.registered.v1" not in URGENT  # the burst itself: it may not overtake itself
