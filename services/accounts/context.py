"""What every use case of accounts needs: the pool, the clock, keys, lifetimes, hashing."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from contracts import Event
from runtime.crypto import keyed_hash
from runtime.outbox import enqueue, enqueue_with
from services.accounts.hashing import Hashing

SCHEMA = "accounts"


@dataclass(frozen=True)
class Lifetimes:
    confirmation_link: timedelta
    initial_password: timedelta
    reset_link: timedelta
    session_idle: timedelta
    session_absolute: timedelta
    device: timedelta
    unconfirmed: timedelta


@dataclass(frozen=True)
class Context:
    pool: asyncpg.Pool
    clock: Callable[[], datetime]
    token_key: bytes  # confirmation and reset links
    session_key: bytes  # session and device cookies
    second_factor_key: bytes  # staff's TOTP secrets (encrypted) and recovery codes (keyed hashes)
    notifications_key: str
    public_url: str
    hashing: Hashing
    lifetimes: Lifetimes

    def link_hash(self, token: str) -> bytes:
        return keyed_hash(self.token_key, token)

    def cookie_hash(self, token: str) -> bytes:
        return keyed_hash(self.session_key, token)


async def emit(conn: asyncpg.Connection, event: Event) -> None:
    await enqueue(conn, event, SCHEMA)


async def emit_with(conn: asyncpg.Connection, event: Event, ctes: str, guard: str, *args) -> bool:
    """The change and its event in one statement (runtime.outbox.enqueue_with)."""
    return await enqueue_with(conn, event, SCHEMA, ctes, guard, *args)
