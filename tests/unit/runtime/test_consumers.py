from datetime import UTC, datetime
from uuid import uuid4

import pytest
from faststream.exceptions import NackMessage, RejectMessage

from contracts import Event, PinLinkedV1
from runtime import consumers

EVENT = PinLinkedV1(user_id=uuid4(), betriebsnummer="4711", business_name="Muster GmbH", linked_at=datetime.now(UTC))


class Message:
    def __init__(self, body: bytes) -> None:
        self.body = body


def accepting(fail: Exception | None = None, seen: list[Event] | None = None):
    async def accept(event: Event) -> bool:
        if fail is not None:
            raise fail
        if seen is not None:
            seen.append(event)
        return True

    return accept


def test_durables_are_named_per_service_and_event() -> None:
    assert consumers.durable_name("accounts", "pin.linked.v1") == "accounts_pin_linked_v1"


async def test_an_event_reaches_the_use_case() -> None:
    seen: list[Event] = []
    await consumers._handler(PinLinkedV1, accepting(seen=seen))(Message(EVENT.model_dump_json().encode()))
    assert seen == [EVENT]


async def test_a_failed_commit_is_redelivered_after_a_pause() -> None:
    handle = consumers._handler(PinLinkedV1, accepting(fail=ConnectionError("postgres away")))
    with pytest.raises(NackMessage) as raised:
        await handle(Message(EVENT.model_dump_json().encode()))
    assert raised.value.extra_options == {"delay": consumers.RETRY_DELAY}


@pytest.mark.parametrize("body", [b"not json", b'{"betriebsnummer": "4711"}'])
async def test_an_unreadable_message_is_terminated_not_redelivered(body: bytes) -> None:
    with pytest.raises(RejectMessage):
        await consumers._handler(PinLinkedV1, accepting())(Message(body))
