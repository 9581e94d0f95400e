"""A service's durables subscribed on an in-memory broker (FastStream's TestNatsBroker), its dead
letters kept in a list instead of its table."""

from types import SimpleNamespace

from contracts import EVENTS_BY_SUBJECT
from contracts.durables import durables_of
from runtime import bus, consumers
from runtime.deadletters import DeadLetter


class MemoryDeadLetters:
    """runtime.consumers' dead-letter sink in a list; `fail` makes every write fail."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.letters: list[DeadLetter] = []
        self.fail = fail

    async def put(self, letter: DeadLetter) -> int:
        if self.fail is not None:
            raise self.fail
        self.letters.append(letter)
        return len(self.letters)


def subscribe_all(broker, service: str, accept, dead_letters: MemoryDeadLetters | None = None) -> MemoryDeadLetters:
    """Every durable of `service` handed to the one `accept`; returns where dead letters go."""
    sink = dead_letters if dead_letters is not None else MemoryDeadLetters()
    for durable in durables_of(service):
        consumers.subscribe(broker, service, EVENTS_BY_SUBJECT[durable.subject], accept, sink)
    return sink


def service_broker(service: str) -> bus.ServiceBroker:
    """The broker `service` runs with (runtime.bus.create_broker), for TestNatsBroker."""
    settings = SimpleNamespace(
        instance="", nats_servers=["nats://127.0.0.1:4222"], stream_replicas=1, nats_ca=None, nats_creds=None
    )
    return bus.create_broker(settings, service)
