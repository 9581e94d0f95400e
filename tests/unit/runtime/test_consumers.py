"""What a consumer answers JetStream, with the message and the dead-letter table faked: an ack
only after the handler committed, silence for a failure that has tries left, the dead-letter row
before the termination for one that has not, or that cannot be read."""

from datetime import UTC, datetime
from types import SimpleNamespace
from uuid import uuid4

import pytest

from contracts import Event, PinLinkedV1
from contracts.durables import durable_for
from runtime import consumers
from runtime.deadletters import DeadLetter
from tests.support.consumers import MemoryDeadLetters

EVENT = PinLinkedV1(user_id=uuid4(), betriebsnummer="4711", business_name="Muster GmbH", linked_at=datetime.now(UTC))
DURABLE = durable_for("accounts", PinLinkedV1.SUBJECT)
PUBLISHED = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


class Message:
    """A JetStream delivery as FastStream hands it over; `answers` records ack and term, in
    order with the dead-letter writes of `journal`."""

    def __init__(
        self,
        body: bytes,
        delivered: int = 1,
        sequence: int = 42,
        journal: list | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.body = body
        self.headers = headers or {}
        self.journal = journal if journal is not None else []
        metadata = SimpleNamespace(
            num_delivered=delivered, sequence=SimpleNamespace(stream=sequence, consumer=7), timestamp=PUBLISHED
        )
        self.raw_message = SimpleNamespace(
            reply=f"$JS.ACK.PORTAL_PINS.{DURABLE.name}.{delivered}.{sequence}.7.1764322200000000000.0",
            metadata=metadata,
        )

    async def ack(self) -> None:
        self.journal.append("ack")

    async def reject(self) -> None:
        self.journal.append("term")

    @property
    def answers(self) -> list[str]:
        return [entry for entry in self.journal if entry in ("ack", "term")]


class Journaled(MemoryDeadLetters):
    def __init__(self, journal: list, fail: Exception | None = None) -> None:
        super().__init__(fail)
        self.journal = journal

    async def put(self, letter: DeadLetter) -> int:
        id = await super().put(letter)
        self.journal.append("dead letter")
        return id


def accepting(fail: Exception | None = None, seen: list[Event] | None = None):
    async def accept(event: Event) -> bool:
        if seen is not None:
            seen.append(event)
        if fail is not None:
            raise fail
        return True

    return accept


def limit(max_deliver: int):
    async def ask() -> int:
        return max_deliver

    return ask


def handler(accept, sink, max_deliver: int = 4):
    return consumers._handler(DURABLE, PinLinkedV1, accept, sink, limit(max_deliver))


BODY = EVENT.model_dump_json().encode()


def test_durables_are_named_per_service_and_event() -> None:
    assert consumers.durable_name("accounts", "pin.linked.v1") == "accounts_pin_linked_v1"


async def test_an_event_reaches_the_use_case_and_is_acknowledged_after_it() -> None:
    seen: list[Event] = []
    msg = Message(BODY)
    await handler(accepting(seen=seen), MemoryDeadLetters())(msg)
    assert seen == [EVENT] and msg.answers == ["ack"]


@pytest.mark.parametrize("delivered", [1, 2])
async def test_a_failure_with_tries_left_gets_no_answer_so_the_backoff_brings_it_back(delivered) -> None:
    sink = MemoryDeadLetters()
    msg = Message(BODY, delivered=delivered)
    await handler(accepting(fail=ConnectionError("postgres away")), sink, max_deliver=4)(msg)
    assert msg.answers == [] and sink.letters == []


async def test_the_last_try_that_fails_is_dead_lettered_first_and_terminated_after() -> None:
    journal: list = []
    sink = Journaled(journal)
    msg = Message(BODY, delivered=3, sequence=57, journal=journal)
    await handler(accepting(fail=RuntimeError("kaputt")), sink, max_deliver=4)(msg)
    assert journal == ["dead letter", "term"]
    [letter] = sink.letters
    assert (letter.consumer, letter.stream, letter.subject) == (DURABLE.name, "PORTAL_PINS", "pin.linked.v1")
    assert (letter.sequence, letter.published_at, letter.deliveries) == (57, PUBLISHED, 3)
    assert (letter.event_id, letter.payload, letter.kind) == (EVENT.event_id, BODY, "failed")
    assert letter.reason == "handler failed on delivery 3: RuntimeError: kaputt"


async def test_the_delivery_after_an_unanswered_last_try_is_dead_lettered_without_trying_again() -> None:
    seen: list[Event] = []
    journal: list = []
    sink = Journaled(journal)
    msg = Message(BODY, delivered=4, journal=journal)
    await handler(accepting(seen=seen), sink, max_deliver=4)(msg)
    assert seen == [] and journal == ["dead letter", "term"]
    assert sink.letters[0].kind == "unanswered" and "delivery 3 was never answered" in sink.letters[0].reason


async def test_without_a_limit_a_failure_is_never_given_up() -> None:
    sink = MemoryDeadLetters()
    msg = Message(BODY, delivered=500)
    await handler(accepting(fail=RuntimeError("kaputt")), sink, max_deliver=-1)(msg)
    assert msg.answers == [] and sink.letters == []


@pytest.mark.parametrize(
    ("body", "reason", "named"),
    [
        (b"not json", "unreadable as pin.linked.v1: not JSON", False),
        (b'{"betriebsnummer": "4711"}', "unreadable as pin.linked.v1: user_id: Field required; ", False),
        (
            b'{"event_id": "7d3f7a52-3f5e-4a8c-9d0b-2a0c9f1e5b11", "user_id": "x", "betriebsnummer": "geheim"}',
            "user_id: Input should be a valid UUID",
            True,
        ),
    ],
)
async def test_an_unreadable_message_is_dead_lettered_at_once_and_terminated(body, reason, named) -> None:
    seen: list[Event] = []
    journal: list = []
    sink = Journaled(journal)
    await handler(accepting(seen=seen), sink)(Message(body, journal=journal))
    assert seen == [] and journal == ["dead letter", "term"]
    [letter] = sink.letters
    assert reason in letter.reason and letter.kind == "unreadable" and letter.payload == body
    assert (letter.event_id is not None) == named
    assert "geheim" not in letter.reason  # where the payload misses the contract, never what it holds


async def test_when_the_dead_letter_cannot_be_written_the_message_gets_no_answer() -> None:
    msg = Message(b"not json")
    await handler(accepting(), MemoryDeadLetters(fail=ConnectionError("postgres away")))(msg)
    assert msg.answers == []  # it comes back while JetStream has a delivery left


async def test_a_message_from_an_in_memory_broker_counts_as_a_first_delivery() -> None:
    msg = Message(BODY)
    msg.raw_message.reply = ""
    sink = MemoryDeadLetters()
    await handler(accepting(fail=RuntimeError("kaputt")), sink, max_deliver=2)(msg)
    assert sink.letters[0].deliveries == 1 and sink.letters[0].sequence == 0


async def test_the_durables_limit_comes_from_the_contract_when_no_server_is_asked() -> None:
    assert await consumers._contract_limit(DURABLE)() == DURABLE.redelivery.max_deliver
    assert await consumers._contract_limit(durable_for("printshop", "pin.requested.v1"))() == -1
