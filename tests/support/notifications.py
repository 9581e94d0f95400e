"""Notifications in this process on real Postgres, NATS and the mail catcher, its clock in the
test's hand (as tests/support/inprocess.py does for accounts), and the events it reads."""

import secrets
from pathlib import Path

import nats
from aiohttp.test_utils import TestClient, TestServer

from contracts import Event
from deploy.infra import NatsServer
from runtime.crypto import generate_keypair
from services.notifications import repository
from services.notifications.app import create_app
from services.notifications.settings import Settings
from tests.support.client import query
from tests.support.identity import PUBLIC_KEY
from tests.support.inprocess import Clock


async def own_nats(folder: Path):
    """A plain NATS of this test's own, with the streams and durables ops make: on the session's
    server these durables would also hand over the events other tests published there."""
    server = NatsServer(folder / "nats-store", log_path=folder / "nats.log")
    await server.start()
    try:
        await server.ensure_streams()
        yield server
    finally:
        await server.stop()


async def notifications_in_process(postgres, nats_server, mail, **overrides):
    """A running notifications app (`client.clock`, `client.dsn`, `client.public_key`)."""
    public, private = generate_keypair()
    dsn = await postgres.create_database(f"mailqueue_{secrets.token_hex(4)}")
    settings = Settings(
        database_url=dsn,
        nats_url=nats_server.url,
        identity_public_key=PUBLIC_KEY,
        notifications_public_key=public,
        notifications_private_key=private,
        mail_from="Kundenportal der Handwerkskammer <kundenportal@hwk.example>",
        smtp_host=mail.host,
        smtp_port=mail.smtp_port,
        **({"public_url": "http://portal.test"} | overrides),
    )
    clock = Clock()
    async with TestClient(TestServer(create_app(settings, clock=clock))) as client:
        client.clock, client.dsn, client.public_key = clock, dsn, public
        yield client


async def publish(nats_server, *events: Event) -> None:
    """As the producers' outbox relays do: JetStream, `Nats-Msg-Id` = the event id."""
    connection = await nats.connect(nats_server.url)
    try:
        stream = connection.jetstream()
        for event in events:
            await stream.publish(
                event.SUBJECT, event.model_dump_json().encode(), headers={"Nats-Msg-Id": str(event.event_id)}
            )
    finally:
        await connection.close()


async def wake(dsn: str) -> None:
    """What a new mail does: NOTIFY the workers, so they look at once (after the clock moved)."""
    await query(dsn, "select pg_notify($1, '')", repository.CHANNEL)
