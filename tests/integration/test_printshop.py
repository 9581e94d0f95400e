"""The print shop against a real nats-server run as production runs it: deploy/nats/accounts.conf,
TLS, the streams and durables made by deploy.streams' code (as ops do).

1. What the `printshop` user may do: consume pin.requested.v1 through its durable pull consumer
   `printshop_pin_requested_v1`, and nothing else (no other subscription, no publish, no other
   consumer or stream, no wider filter, no stream deletion).
2. The print shop process (`python -m deploy.printshop`) prints one PDF per request id, also
   when it is killed between writing the letter and the ack (the redelivery is acked without a
   second letter), and terminates what it cannot read.
"""

import asyncio
import io
import json
import signal
import uuid
from datetime import date
from pathlib import Path

import aiohttp
import nats
import pytest
from pypdf import PdfReader

from contracts import PinRequestedV1, PostalAddress
from contracts.durables import DURABLES
from deploy.infra import NatsServer, PrintShopProcess, free_port
from deploy.nats_local import LocalTls, NatsPasswords
from deploy.printshop.consumer import consumer_config
from deploy.printshop.settings import DURABLE, INBOX_PREFIX, STREAM
from runtime.crypto import generate_keypair, seal
from tests.support.nats_users import Client, Users, request_refused
from tests.support.wait import until

pytestmark = pytest.mark.integration

PIN = "KXMR7PQ4"  # the unambiguous alphabet of the pins service
SUBJECT = PinRequestedV1.SUBJECT
ON_PINS = {d.name for d in DURABLES if d.stream == STREAM}  # what ops made on PORTAL_PINS


@pytest.fixture
async def secured(test_output: Path):
    """A nats-server with the portal's users (fresh passwords, in its environment only) and TLS,
    the streams and durables made as ops make them."""
    server = NatsServer(
        test_output / "nats-store",
        log_path=test_output / "nats.log",
        passwords=NatsPasswords.generate(),
        tls=LocalTls.load_or_create(test_output / "tls"),
    )
    await server.start()
    users = Users(server)
    try:
        await server.ensure_streams()
        yield users
    finally:
        await users.close()
        await server.stop()


def pin_requested(
    public_key: str, request_id: uuid.UUID | None = None, pin: str = PIN, reason: str = "user_request"
) -> PinRequestedV1:
    return PinRequestedV1(
        request_id=request_id or uuid.uuid4(),
        reason=reason,
        betriebsnummer="4711081",
        business_name="Schreinerei Böhm & Söhne",
        address=PostalAddress(street="Mühlgasse 3", postal_code="65183", city="Wiesbaden"),
        pin=seal(public_key, pin),
        valid_until=date(2026, 3, 31),
    )


async def publish(pins: Client, event: PinRequestedV1) -> int:
    ack = await pins.nc.jetstream().publish(
        event.SUBJECT, event.model_dump_json().encode(), headers={"Nats-Msg-Id": str(event.event_id)}
    )
    return ack.seq


# --- 1. permissions ---------------------------------------------------------------------


async def test_printshop_consumes_pin_requested_through_its_durable(secured: Users):
    public, _private = generate_keypair()
    pins = await secured.client("pins")
    event = pin_requested(public)
    await publish(pins, event)
    await pins.nc.publish("pin.linked.v1", b"{}")  # in the same stream, not for the print shop

    shop = await secured.client("printshop")
    js = shop.nc.jetstream(timeout=5)
    info = await js.add_consumer(STREAM, config=consumer_config(ack_wait=30))
    assert info.name == DURABLE and info.config.filter_subject == SUBJECT
    subscription = await js.pull_subscribe_bind(durable=DURABLE, stream=STREAM)
    messages = await subscription.fetch(10, timeout=2)
    assert [m.subject for m in messages] == [SUBJECT]
    assert PinRequestedV1.model_validate_json(messages[0].data).request_id == event.request_id
    await messages[0].ack_sync()
    assert (await js.consumer_info(STREAM, DURABLE)).num_ack_pending == 0
    with pytest.raises(nats.errors.TimeoutError):  # pin.linked.v1 never reaches it
        await subscription.fetch(1, timeout=0.5)
    assert shop.errors == []


@pytest.mark.parametrize(
    "subject", ["pin.linked.v1", "pin.>", "user.>", "session.>", ">", "pin.requested.v1", "_INBOX.>", "_INBOX.pins.>"]
)
async def test_printshop_may_not_subscribe(secured: Users, subject: str):
    shop = await secured.client("printshop")
    received = []

    async def on_message(msg) -> None:
        received.append(msg)

    await shop.nc.subscribe(subject, cb=on_message)
    await shop.nc.flush()
    await shop.violation("subscription", subject)
    pins = await secured.client("pins")
    await pins.nc.publish("pin.linked.v1", b"{}")
    await pins.nc.flush()
    await shop.nc.flush()  # the server delivers what it routed to the shop before this PONG
    assert received == []


@pytest.mark.parametrize(
    "subject",
    [
        "pin.requested.v1",
        "pin.linked.v1",
        "user.registered.v1",
        "session.revoke.v1",
        # streams: read, delete, purge, list
        "$JS.API.STREAM.INFO.PORTAL_USERS",
        "$JS.API.STREAM.INFO.PORTAL_PINS",
        "$JS.API.STREAM.DELETE.PORTAL_PINS",
        "$JS.API.STREAM.PURGE.PORTAL_PINS",
        "$JS.API.STREAM.MSG.GET.PORTAL_PINS",
        "$JS.API.DIRECT.GET.PORTAL_PINS",
        "$JS.API.STREAM.NAMES",
        "$JS.API.STREAM.CREATE.MINE",
        # other consumers, the legacy create with the filter in the body only, deleting its own
        "$JS.API.CONSUMER.CREATE.PORTAL_USERS.printshop_pin_requested_v1.user.>",
        "$JS.API.CONSUMER.CREATE.PORTAL_PINS.other.pin.requested.v1",
        "$JS.API.CONSUMER.CREATE.PORTAL_PINS.printshop_pin_requested_v1.pin.linked.v1",
        "$JS.API.CONSUMER.CREATE.PORTAL_PINS.printshop_pin_requested_v1",
        "$JS.API.CONSUMER.CREATE.PORTAL_PINS",
        "$JS.API.CONSUMER.DURABLE.CREATE.PORTAL_PINS.printshop_pin_requested_v1",
        "$JS.API.CONSUMER.DELETE.PORTAL_PINS.printshop_pin_requested_v1",
        "$JS.API.CONSUMER.INFO.PORTAL_USERS.notifications",
        "$JS.API.CONSUMER.MSG.NEXT.PORTAL_PINS.notifications",
    ],
)
async def test_printshop_may_not_publish(secured: Users, subject: str):
    shop = await secured.client("printshop")
    await request_refused(shop, subject)


async def test_refused_api_calls_change_nothing(secured: Users):
    public, _ = generate_keypair()
    pins = await secured.client("pins")
    await publish(pins, pin_requested(public))
    shop = await secured.client("printshop")
    for subject in (
        "$JS.API.STREAM.DELETE.PORTAL_PINS",
        "$JS.API.STREAM.PURGE.PORTAL_PINS",
        "$JS.API.STREAM.DELETE.PORTAL_USERS",
    ):
        await request_refused(shop, subject)
    with pytest.raises(nats.errors.TimeoutError):  # the high-level call is refused the same way
        await shop.nc.jetstream(timeout=0.5).delete_stream("PORTAL_PINS")
    with pytest.raises(nats.errors.TimeoutError):
        await shop.nc.jetstream(timeout=0.5).publish("pin.requested.v1", b"{}")
    js = pins.nc.jetstream()
    assert (await js.stream_info("PORTAL_PINS")).state.messages == 1
    assert (await js.stream_info("PORTAL_USERS")).config.name == "PORTAL_USERS"
    ops = (await secured.client("ops")).nc.jetstream()
    assert {c.name for c in await ops.consumers_info("PORTAL_PINS")} == ON_PINS


async def test_printshop_cannot_widen_its_filter(secured: Users):
    shop = await secured.client("printshop")
    create = f"$JS.API.CONSUMER.CREATE.{STREAM}.{DURABLE}.pin.requested.v1"
    for config in (
        {"filter_subject": "pin.>"},
        {"filter_subject": "pin.linked.v1"},
        {"filter_subjects": ["pin.requested.v1", "pin.linked.v1"]},
        {},
    ):
        body = {
            "stream_name": STREAM,
            "config": {"name": DURABLE, "durable_name": DURABLE, "ack_policy": "explicit", **config},
        }
        answer = json.loads((await shop.nc.request(create, json.dumps(body).encode(), timeout=2)).data)
        assert answer["error"]["code"] == 400, (config, answer)
    ops = (await secured.client("ops")).nc.jetstream()
    assert {c.name for c in await ops.consumers_info(STREAM)} == ON_PINS
    assert (await ops.consumer_info(STREAM, DURABLE)).config.filter_subject == SUBJECT


async def test_services_may_not_listen_on_the_printshop_inbox(secured: Users):
    for user in ("accounts", "pins", "notifications", "gateway"):
        client = await secured.client(user)
        await client.nc.subscribe(f"{INBOX_PREFIX}.>")
        await client.nc.flush()
        await client.violation("subscription", f"{INBOX_PREFIX}.>")


# --- 2. the print shop process ---------------------------------------------------------


def start_printshop(secured: Users, private_key: str, letters: Path, log_dir: Path, **extra: str) -> PrintShopProcess:
    env = {
        **secured.server.printshop_env(),
        "PRINTSHOP_PRIVATE_KEY": private_key,
        "PRINTSHOP_OUTPUT_DIR": str(letters),
        "PRINTSHOP_ACK_WAIT_SECONDS": "1",
        "PRINTSHOP_LOG_LEVEL": "DEBUG",
        **extra,
    }
    return PrintShopProcess(env, free_port(), log_dir)


async def wait_for(check, timeout: float = 20, what: str = "condition"):
    return await until(check, what, timeout)


async def consumer_done(ops: Client, last_seq: int) -> bool:
    info = await ops.nc.jetstream().consumer_info(STREAM, DURABLE)
    return info.num_pending == 0 and info.num_ack_pending == 0 and info.ack_floor.stream_seq >= last_seq


def pdf_text(path: Path) -> str:
    pages = PdfReader(io.BytesIO(path.read_bytes())).pages
    return " ".join(" ".join(page.extract_text() for page in pages).split())


async def test_printshop_prints_one_letter_per_request(secured: Users, test_output: Path):
    public, private = generate_keypair()
    letters = test_output / "letters"
    pins = await secured.client("pins")
    ops = await secured.client("ops")  # the print shop's durable is none of pins' business
    shop = start_printshop(secured, private, letters, test_output)
    await shop.start()
    try:
        await shop.wait_ready()
        event = pin_requested(public, reason="annual_notice")
        await publish(pins, event)
        letter = letters / f"{event.request_id}.pdf"
        await wait_for(lambda: exists(letter), what="the letter")
        text = pdf_text(letter)
        assert "KXMR-7PQ4" in text and "Schreinerei Böhm & Söhne" in text and "Mühlgasse 3" in text
        assert "Beitragsbescheid" in text
        first = letter.stat()

        # the same request again (a new event, e.g. re-published), and a message it cannot read
        await publish(pins, pin_requested(public, request_id=event.request_id, pin="ZZZZZZZZ"))
        await pins.nc.jetstream().publish(SUBJECT, b"not a PinRequestedV1")
        last = await publish(pins, pin_requested(generate_keypair()[0]))  # sealed to another key
        # the server holds every ack and term (the ack floor passed the last one, none pending):
        # nothing can come back after ack_wait, so there is nothing to wait out
        await wait_for(lambda: consumer_done(ops, last), what="all acked or terminated")
        info = await ops.nc.jetstream().consumer_info(STREAM, DURABLE)
        assert info.num_redelivered == 0 and info.delivered.consumer_seq == 4
        assert shop.running
        assert sorted(p.name for p in letters.glob("*.pdf")) == [letter.name]
        assert (letter.stat().st_ino, letter.stat().st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
        log = shop.log_path.read_text()
        assert log.count("rejected message") == 2 and "already printed" in log
        assert PIN not in log and "KXMR-7PQ4" not in log  # the PIN is never logged, nor its glyphs
        assert "fontTools" not in log

        page = await fetch_page(shop.url)
        assert "Briefe der Druckerei" in page and letter.name in page
    finally:
        await shop.terminate()
    assert shop.returncode == 0


async def fetch_page(url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        return await response.text()


async def exists(path: Path) -> bool:
    return path.exists()


async def test_killed_before_the_ack_the_letter_is_redelivered_but_not_printed_twice(secured: Users, test_output: Path):
    public, private = generate_keypair()
    letters = test_output / "letters"
    pins = await secured.client("pins")
    ops = await secured.client("ops")
    crashing = start_printshop(secured, private, letters, test_output, PRINTSHOP_CRASH_BEFORE_ACK="1")
    await crashing.start()
    event = pin_requested(public)
    letter = letters / f"{event.request_id}.pdf"
    try:
        await crashing.wait_ready()
        seq = await publish(pins, event)
        await asyncio.to_thread(crashing.process.wait, 20)  # written, then SIGKILL before the ack
    finally:
        await crashing.kill()
    assert crashing.returncode == -signal.SIGKILL
    assert letter.exists() and "KXMR-7PQ4" in pdf_text(letter)
    written = letter.stat()
    info = await ops.nc.jetstream().consumer_info(STREAM, DURABLE)
    assert info.num_ack_pending == 1 and info.ack_floor.stream_seq < seq  # not acked

    restarted = start_printshop(secured, private, letters, test_output)
    await restarted.start()
    try:
        await restarted.wait_ready()
        await wait_for(lambda: consumer_done(ops, seq), what="the redelivery to be acked")
        assert sorted(p.name for p in letters.glob("*.pdf")) == [letter.name]
        assert (letter.stat().st_ino, letter.stat().st_mtime_ns) == (written.st_ino, written.st_mtime_ns)
        log = restarted.log_path.read_text()
        assert f"already printed: request {event.request_id} (delivery 2)" in log
    finally:
        await restarted.terminate()
