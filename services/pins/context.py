"""What every use case of pins needs: the pool, the clock, the keys, lifetimes and limits."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from contracts import Event
from runtime.crypto import derive_key, secret_bytes
from runtime.outbox import enqueue, enqueue_many
from services.pins import domain
from services.pins.limits import RequestLimits
from services.pins.throttle import LinkLimits

SCHEMA = "pins"


@dataclass(frozen=True)
class Context:
    pool: asyncpg.Pool
    clock: Callable[[], datetime]
    pin_key: bytes
    printshop_key: str
    pin_valid: timedelta = timedelta(days=30)
    annual_pin_valid: timedelta = timedelta(days=60)
    request_limits: RequestLimits = field(default_factory=RequestLimits)
    link_limits: LinkLimits = field(default_factory=LinkLimits)

    def pin_hash(self, betriebsnummer: str, pin: str) -> bytes:
        return domain.pin_hash(self.pin_key, betriebsnummer, pin)


def pin_key(pins_secret: str) -> bytes:
    return derive_key(secret_bytes(pins_secret), "pins/pins")


async def emit(conn: asyncpg.Connection, event: Event) -> None:
    await enqueue(conn, event, SCHEMA)


async def emit_all(conn: asyncpg.Connection, events: list[Event]) -> None:
    """A batch of events (the yearly issue) in one round trip."""
    await enqueue_many(conn, events, SCHEMA)
