"""pins in the test's process on the real Postgres and NATS, its clock in the test's hand, and the
calls a member (through the gateway's signed identity) and the chamber's staff make to it."""

import json
import os
import secrets
import subprocess
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from uuid import UUID, uuid4

import nats
from aiohttp.test_utils import TestClient, TestServer

from contracts import EVENTS_BY_SUBJECT
from runtime import service
from runtime.crypto import generate_keypair, generate_secret, unseal
from runtime.sessions import SessionUser, epoch_ms
from services.pins.app import create_app
from services.pins.register import import_register
from services.pins.settings import Settings
from tests.support.client import query
from tests.support.identity import PUBLIC_KEY, signed
from tests.support.inprocess import Clock
from tests.support.published import last_seq, messages
from tests.support.wait import until

SECRET = generate_secret()
ROOT = Path(__file__).resolve().parents[2]
HEADER = "Betriebsnummer;Name;Straße;PLZ;Ort;E-Mail;Gewerk"


@asynccontextmanager
async def pins_in_process(postgres, nats_server, clock: Clock | None = None, **overrides):
    """A TestClient of pins on a database of its own; `clock`, `dsn` and the print shop's keys on it.
    `clock`: one set before pins starts (its housekeeping sweeps once at once)."""
    public, private = generate_keypair()
    dsn = await postgres.create_database(f"pins_{secrets.token_hex(4)}")
    settings = Settings(
        database_url=dsn,
        nats_url=nats_server.url,
        public_url="http://portal.test",
        pins_secret=SECRET,
        identity_public_key=PUBLIC_KEY,
        printshop_public_key=public,
        **overrides,
    )
    clock = clock or Clock()
    async with TestClient(TestServer(create_app(settings, clock=clock))) as client:
        client.clock, client.dsn, client.private_key, client.public_key = clock, dsn, private, public
        yield client


def member() -> str:
    """A member's id; each call comes from a session that started at the pins clock's now."""
    return str(uuid4())


def number() -> str:
    return str(secrets.randbelow(10**11) + 10**11)


async def call(client, method: str, path: str, body=None, user: str = "", address: str = "192.0.2.7"):
    """(status, JSON body, headers) of a request the gateway signed for `user` from `address`."""
    if user and ":" not in user:
        user = SessionUser(UUID(user), uuid4(), epoch_ms(client.clock())).header()
    async with client.request(method, path, **signed(method, path, body, user=user, client=address)) as response:
        data = await response.json() if response.content_type == "application/json" else None
        return response.status, data, response.headers


async def link(client, user: str, n: str, pin: str, address: str = "192.0.2.7"):
    return await call(client, "POST", "/api/v1/pins/links", {"betriebsnummer": n, "pin": pin}, user, address)


async def ask_for_pin(client, user: str, n: str, address: str = "192.0.2.7"):
    return await call(client, "POST", "/api/v1/pins/requests", {"betriebsnummer": n}, user, address)


def csv(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def row(n: str, name: str = "Malerei Müller GmbH", email: str = "info@mueller.de", city: str = "Wiesbaden") -> str:
    return f"{n};{name};Hauptstraße 1;65183;{city};{email};Maler und Lackierer"


async def businesses(client, *numbers: str) -> None:
    await import_register(client.server.app[service.POOL], csv(*(row(n) for n in numbers)), client.clock())


async def events(client, subject: str) -> list[dict]:
    rows = await query(client.dsn, "select payload from pins.outbox where subject = $1 order by id", subject)
    return [json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"] for r in rows]


async def request_pin(client, user: str, n: str) -> str:
    """Ask for a letter; the PIN as the print shop reads it."""
    status, body, _ = await ask_for_pin(client, user, n)
    assert status == 202, body
    event = [e for e in await events(client, "pin.requested.v1") if e["request_id"] == body["request"]["request_id"]][0]
    return unseal(client.private_key, event["pin"])


def wrong_pin(right: str) -> str:
    return "ABCD-EFGH" if right.replace("-", "") != "ABCDEFGH" else "HGFE-DCBA"


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`python -m services.pins …` as staff run it, with only the given PORTAL_ variables."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    return subprocess.run(
        [sys.executable, "-m", "services.pins", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=120,
    )


# Several members of one business link in a test: the request limits then stand in the way.
MANY_REQUESTS = {
    "pin_requests_per_business_week": 10,
    "pin_requests_per_business_month": 30,
    "pin_requests_per_member_month": 30,
}


def staff(client, user_id: UUID | None = None, role: str = "staff") -> str:
    """The identity of a staff account past its second factor (role "staff_pending": before it)."""
    return SessionUser(user_id or uuid4(), uuid4(), epoch_ms(client.clock()), role).header()


async def linked(client, n: str, user: str | None = None) -> str:
    """A member (id) whose account is linked to business `n`."""
    user = user or member()
    status, body, _ = await link(client, user, n, await request_pin(client, user, n))
    assert status == 200, body
    return user


async def published_all(client) -> None:
    """Wait until pins' relay has published every outbox row to JetStream."""

    async def done() -> bool:
        rows = await query(client.dsn, "select count(*) as n from pins.outbox where published_at is null")
        return rows[0]["n"] == 0

    await until(done, "every outbox row of pins published", timeout=10)


async def bus_position(nats_url: str, subject: str) -> int:
    """The last sequence of `subject`'s stream: read the bus after it (the session's NATS is shared)."""
    nc = await nats.connect(nats_url)
    try:
        return await last_seq(nc, EVENTS_BY_SUBJECT[subject].STREAM)
    finally:
        await nc.close()


async def on_the_bus(nats_url: str, subject: str, after: int = 0, **match: str) -> list[dict]:
    """The payloads of `subject` in its stream after sequence `after` whose fields equal `match`."""
    nc = await nats.connect(nats_url)
    try:
        found = await messages(nc, EVENTS_BY_SUBJECT[subject].STREAM, after, subject)
    finally:
        await nc.close()
    return [m.payload for m in found if all(str(m.payload.get(k)) == v for k, v in match.items())]


async def pin_from_outbox(portal, number: str) -> str:
    """The PIN of the business's latest letter as the print shop reads it: from the sealed event
    in pins' outbox, opened with the print shop's private key."""

    async def sealed():
        return await query(
            portal.database_url,
            "select payload from pins.outbox where subject = 'pin.requested.v1' and payload->>'betriebsnummer' = $1"
            " order by id desc",
            number,
        )

    rows = await until(sealed, "the PIN letter's event")
    payload = rows[0]["payload"]
    payload = json.loads(payload) if isinstance(payload, str) else payload
    return unseal(portal.printshop_private_key, payload["pin"])
