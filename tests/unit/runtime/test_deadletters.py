"""The operator's side of dead letters without a database: `retry` hands the stored message to the
service's own handler, the command line shows no payload, and every service's handlers are
exactly the events its durables read."""

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from contracts import PinLinkedV1
from contracts.durables import durables_of
from runtime import consumers, deadletter_commands
from runtime.cli import Service, database_commands, parser
from runtime.deadletters import Row, retry
from services.accounts import consumers as accounts
from services.notifications import consumers as notifications
from services.pins import consumers as pins

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
EVENT = PinLinkedV1(user_id=uuid4(), betriebsnummer="4711", business_name="Muster GmbH", linked_at=NOW)


def row(id: int = 1, state: str = "open", payload: bytes = EVENT.model_dump_json().encode()) -> Row:
    return Row(
        id=id,
        consumer="accounts_pin_linked_v1",
        stream="PORTAL_PINS",
        subject="pin.linked.v1",
        sequence=57,
        published_at=NOW,
        event_id=EVENT.event_id,
        payload=payload,
        reason="handler failed on delivery 9: RuntimeError: kaputt",
        deliveries=9,
        first_failure=NOW,
        last_failure=NOW,
        state=state,
        resolved_at=None,
    )


class Store:
    """runtime.deadletters.DeadLetters' rows in a dict."""

    def __init__(self, *rows: Row) -> None:
        self.rows = {r.id: r for r in rows}
        self.reasons: dict[int, str] = {}

    async def get(self, id: int) -> Row | None:
        return self.rows.get(id)

    async def close(self, id: int, state: str) -> bool:
        found = self.rows.get(id)
        if found is None or found.state != "open":
            return False
        self.rows[id] = Row(**{**found.__dict__, "state": state, "resolved_at": NOW})
        return True

    async def failed_again(self, id: int, reason: str) -> None:
        self.reasons[id] = reason


def handled(result: bool = True, fail: Exception | None = None, seen: list | None = None):
    async def accept(event) -> bool:
        if seen is not None:
            seen.append(event)
        if fail:
            raise fail
        return result

    return {"pin.linked.v1": accept}


async def test_a_retry_hands_the_stored_event_to_the_handler_and_closes_the_row() -> None:
    store, seen = Store(row()), []
    outcome = await retry(store, handled(seen=seen), 1)
    assert outcome.ok and outcome.message == "#1 retried: handled"
    assert seen == [EVENT] and store.rows[1].state == "retried"


async def test_a_retry_of_an_event_handled_meanwhile_changes_nothing_and_closes_the_row() -> None:
    store = Store(row())
    outcome = await retry(store, handled(result=False), 1)
    assert outcome.ok and "handled already" in outcome.message and store.rows[1].state == "retried"


async def test_a_retry_that_fails_again_keeps_the_row_open_with_the_new_reason() -> None:
    store = Store(row())
    outcome = await retry(store, handled(fail=RuntimeError("immer noch")), 1)
    assert not outcome.ok and store.rows[1].state == "open"
    assert store.reasons[1] == "retry by an operator failed: RuntimeError: immer noch"
    assert outcome.message == f"#1 stays open: {store.reasons[1]}"


async def test_a_retry_reads_the_payload_anew_and_keeps_one_that_still_does_not_parse() -> None:
    store, seen = Store(row(payload=b'{"user_id": "nope"}')), []
    outcome = await retry(store, handled(seen=seen), 1)
    assert not outcome.ok and seen == [] and store.rows[1].state == "open"
    assert store.reasons[1].startswith("unreadable as pin.linked.v1: ")


@pytest.mark.parametrize(("rows", "expected"), [((), "#1: no such dead letter"), ((row(state="dropped"),), "dropped")])
async def test_only_an_open_dead_letter_is_retried(rows, expected) -> None:
    seen: list = []
    outcome = await retry(Store(*rows), handled(seen=seen), 1)
    assert not outcome.ok and expected in outcome.message and seen == []


async def test_a_service_without_a_handler_for_the_subject_says_so() -> None:
    outcome = await retry(Store(row()), {}, 1)
    assert not outcome.ok and "no handler for pin.linked.v1" in outcome.message


@pytest.mark.parametrize("service", ["accounts", "pins", "notifications"])
def test_every_service_with_a_schema_has_the_command(service) -> None:
    p = parser(Service(service, object, object, service), database_commands(Service(service, object, object, service)))
    assert p.parse_args(["dead-letters", "retry", "3", "4"]).ids == [3, 4]
    assert p.parse_args(["dead-letters", "drop", "5"]).ids == [5]
    listing = p.parse_args(["dead-letters", "list", "--state", "dropped", "--state", "retried"])
    assert (listing.dead_letters_action, listing.state, listing.all) == ("list", ["dropped", "retried"], False)
    with pytest.raises(SystemExit):
        p.parse_args(["dead-letters", "retry"])  # an ID is needed
    with pytest.raises(SystemExit):
        p.parse_args(["dead-letters", "list", "--state", "gone"])


def test_a_listing_names_the_message_and_the_reason_but_shows_no_payload() -> None:
    secret = b'{"initial_password": "c2VhbGVkIGJveCBzZWFsZWQgYm94IHNlYWxlZCBib3g="}'
    text = deadletter_commands.describe(row(payload=secret))
    assert text.startswith("#1 open  pin.linked.v1  PORTAL_PINS seq 57  consumer accounts_pin_linked_v1")
    assert str(EVENT.event_id) in text and "9 deliveries" in text and f"{len(secret)} bytes" in text
    assert "reason: handler failed on delivery 9" in text
    assert "c2VhbGVk" not in text and "initial_password" not in text


@pytest.mark.parametrize(
    ("service", "handlers"),
    [
        ("accounts", accounts.handlers),
        ("pins", pins.handlers),
        ("notifications", notifications.handlers),
    ],
)
def test_every_service_handles_exactly_the_events_its_durables_read(service, handlers) -> None:
    made = handlers(object())  # the pool is only used when an event comes
    assert set(made) == {d.subject for d in durables_of(service)}
    assert all(callable(accept) for accept in made.values())


def test_a_service_without_a_schema_has_no_dead_letters() -> None:
    assert "dead-letters" not in {c.name for c in database_commands(Service("gateway", object, object))}


def test_handlers_that_miss_a_durable_stop_the_service_at_start() -> None:
    bound = consumers._Bound("notifications", lambda pool: {"pin.linked.v1": None})
    with pytest.raises(RuntimeError, match="notifications handles"):
        bound.bind(object())
