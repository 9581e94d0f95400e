"""The chamber's staff in pins (real Postgres and NATS, pins in this process): who may call what,
the business of record with its links, letters and failed attempts, a new PIN letter that reaches
the print shop's durable, the audit log that nobody can edit and that housekeeping purges after
three years, and the tombstone that keeps an erased member erased."""

import contextlib
import json
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import nats
import pytest

from contracts import UserConfirmedV1, UserDeletedV1
from runtime import bus, service
from runtime.crypto import seal
from services.pins import housekeeping
from services.pins.app import CONTEXT
from services.pins.http import ENDPOINTS
from tests.support.client import query
from tests.support.inprocess import Clock
from tests.support.pins import (
    MANY_REQUESTS,
    ask_for_pin,
    businesses,
    call,
    link,
    linked,
    member,
    number,
    pins_in_process,
    published_all,
    request_pin,
    staff,
    wrong_pin,
)
from tests.support.wait import until

pytestmark = pytest.mark.integration

PRINTSHOP = "printshop_pin_requested_v1"


@pytest.fixture
async def pins_factory(postgres, nats_server):
    async with contextlib.AsyncExitStack() as stack:

        async def start(**overrides):
            client = await stack.enter_async_context(pins_in_process(postgres, nats_server, **overrides))
            client.nats_url = nats_server.url
            return client

        yield start


@pytest.fixture
async def pins(pins_factory):
    return await pins_factory(**MANY_REQUESTS)


def staff_routes(n: str, user_id: str) -> list[tuple[str, str]]:
    paths = [(e.method, e.path.format(betriebsnummer=n, user_id=user_id)) for e in ENDPOINTS if "/staff/" in e.path]
    assert len(paths) == 4
    return paths


async def test_members_may_not_use_staff_routes_nor_staff_member_routes(pins) -> None:
    n = number()
    await businesses(pins, n)
    user = await linked(pins, n)
    for method, path in staff_routes(n, user):
        for who, status, code in (
            (member(), 403, "staff_only"),
            (staff(pins, role="staff_pending"), 403, "second_factor_required"),
            ("", 401, "unauthenticated"),
        ):
            answer, body, _ = await call(pins, method, path, {} if method == "POST" else None, who)
            assert (answer, body["error"]["code"]) == (status, code), (method, path, who)
    assert await query(pins.dsn, "select 1 from pins.links where user_id = $1", UUID(user))
    assert not await query(pins.dsn, "select 1 from pins.staff_audit")

    officer = staff(pins)
    status, body, _ = await ask_for_pin(pins, officer, n)
    assert status == 403 and body["error"]["code"] == "members_only" and "Mitgliedskonten" in body["error"]["message"]
    status, body, _ = await link(pins, officer, n, "ABCD-EFGH")
    assert status == 403 and body["error"]["code"] == "members_only"
    assert not await query(pins.dsn, "select 1 from pins.pin_letters where requested_by = $1", UUID(officer[:36]))


async def test_staff_see_the_business_of_record(pins) -> None:
    n = number()
    await businesses(pins, n)
    user = await linked(pins, n)
    await pins.server.app[service.POOL].execute(
        "insert into pins.members values ($1, 'erika@example.de', 'Erika', 'Muster', now())", UUID(user)
    )
    asking, guessing = member(), member()
    pin = await request_pin(pins, asking, n)
    assert (await link(pins, guessing, n, wrong_pin(pin)))[0] == 422
    officer = staff(pins)
    await published_all(pins)  # both letters with the print shop

    status, body, _ = await call(pins, "GET", f"/api/v1/pins/staff/businesses/{n}", user=officer)
    assert status == 200, body
    assert (body["betriebsnummer"], body["name"], body["email"]) == (n, "Malerei Müller GmbH", "info@mueller.de")
    assert body["address"] == {"street": "Hauptstraße 1", "postal_code": "65183", "city": "Wiesbaden"}
    assert body["deleted_at"] is None and body["imported_at"] and body["trade"] == "Maler und Lackierer"
    [account] = body["linked_accounts"]
    assert (account["user_id"], account["name"], account["email"]) == (user, "Erika Muster", "erika@example.de")
    assert sorted((letter["state"], letter["reason"]) for letter in body["letters"]) == [
        ("handed_over", "user_request"),
        ("used", "user_request"),
    ]
    used = next(letter for letter in body["letters"] if letter["state"] == "used")
    assert used["used_at"] and used["state_label"] == "Verwendet" and used["id"]
    [failure] = body["failed_attempts"]
    assert failure["user_id"] == guessing and failure["name"] is None and failure["at"]

    status, body, _ = await call(pins, "GET", "/api/v1/pins/staff/businesses/99999999999", user=officer)
    assert status == 404 and body["error"]["code"] == "business_not_found" and "Register" in body["error"]["message"]
    lines = await query(pins.dsn, "select staff_user_id, action, betriebsnummer, user_id from pins.staff_audit")
    assert [(str(r["staff_user_id"]), r["action"], r["betriebsnummer"], r["user_id"]) for r in lines] == [
        (officer[:36], "business_viewed", n, None)
    ]


async def test_staff_send_a_new_pin_letter_to_the_print_shop(pins_factory) -> None:
    pins = await pins_factory()  # the members' request limits as in production
    n, deleted, broken = number(), number(), number()
    await businesses(pins, n, deleted, broken)
    pool = pins.server.app[service.POOL]
    await pool.execute("update pins.businesses set deleted_at = now() where betriebsnummer = $1", deleted)
    await pool.execute("update pins.businesses set street = '' where betriebsnummer = $1", broken)
    officer = staff(pins)

    status, body, _ = await call(pins, "POST", f"/api/v1/pins/staff/businesses/{n}/letters", {}, officer)
    assert status == 202, body
    letter = body["request"]
    assert (letter["reason"], letter["state"]) == ("staff_request", "requested")
    assert letter["reason_label"] == "auf Anfrage bei der Handwerkskammer" and "gültig" in body["message"]
    for other, code in ((deleted, "business_deleted"), (broken, "business_data_invalid"), ("99999999999", None)):
        status, body, _ = await call(pins, "POST", f"/api/v1/pins/staff/businesses/{other}/letters", {}, officer)
        assert status == (409 if code else 404) and body["error"]["code"] == (code or "business_not_found")
    assert "Anschrift" in body["error"]["message"] or "Register" in body["error"]["message"]

    await published_all(pins)
    nc = await nats.connect(pins.nats_url)
    try:
        subscription = await nc.jetstream(timeout=5).pull_subscribe_bind(durable=PRINTSHOP, stream="PORTAL_PINS")

        async def printed() -> dict | None:
            for message in await subscription.fetch(256, timeout=1):
                await message.ack()  # nobody else reads the print shop's durable on this server
                if (event := json.loads(message.data)).get("request_id") == letter["id"]:
                    return event
            return None

        event = await until(printed, "the print shop's durable delivers the staff's letter", timeout=15)
    finally:
        await nc.close()
    assert event["reason"] == "staff_request" and event["betriebsnummer"] == n and event["requested_by_user_id"] is None

    await request_pin(pins, member(), n)  # staff letters count against no member's limit (1 a week)
    rows = await query(pins.dsn, "select count(*) as n from pins.pin_letters where betriebsnummer = $1", n)
    assert rows[0]["n"] == 2
    [line] = await query(pins.dsn, "select * from pins.staff_audit")
    assert (line["action"], line["betriebsnummer"]) == ("letter_requested", n)


async def test_the_audit_log_pages_newest_first_and_cannot_be_edited(pins) -> None:
    numbers = [number() for _ in range(5)]
    await businesses(pins, *numbers)
    officer = staff(pins)
    for n in numbers:
        assert (await call(pins, "GET", f"/api/v1/pins/staff/businesses/{n}", user=officer))[0] == 200

    status, body, _ = await call(pins, "GET", "/api/v1/pins/staff/audit?limit=3", user=officer)
    assert status == 200, body
    first = body["entries"]
    assert [e["betriebsnummer"] for e in first] == numbers[:1:-1]
    assert {(e["service"], e["action"], e["action_label"], e["staff_user_id"]) for e in first} == {
        ("pins", "business_viewed", "Betrieb angesehen", officer[:36])
    }
    status, body, _ = await call(
        pins, "GET", f"/api/v1/pins/staff/audit?limit=3&before={first[-1]['id']}", user=officer
    )
    assert [e["betriebsnummer"] for e in body["entries"]] == numbers[1::-1]
    for bad in ("limit=0", "limit=201", "before=x", "before=-1"):
        status, body, _ = await call(pins, "GET", f"/api/v1/pins/staff/audit?{bad}", user=officer)
        assert status == 422 and body["error"]["code"] == "invalid_input", bad

    connection = await asyncpg.connect(pins.dsn)
    try:
        for statement in (
            "update pins.staff_audit set action = 'link_ended'",
            "update pins.staff_audit set at = at - interval '10 years'",
            "delete from pins.staff_audit",
            "truncate pins.staff_audit",
        ):
            with pytest.raises(asyncpg.RaiseError):
                await connection.execute(statement)
    finally:
        await connection.close()
    assert len(await query(pins.dsn, "select 1 from pins.staff_audit")) == 5


async def test_housekeeping_purges_audit_lines_after_three_years_on_its_clock(pins_factory) -> None:
    now, clock = datetime.now(UTC), Clock()
    clock.now = now - timedelta(days=10)  # the service's clock: not yet three years for "old" …
    pins = await pins_factory(clock=clock)
    officer, pool = uuid4(), pins.server.app[service.POOL]
    await pool.executemany(
        "insert into pins.staff_audit (at, staff_user_id, action, betriebsnummer) values ($1, $2, 'business_viewed', $3)",
        [(now - timedelta(days=3 * 365 + 5), officer, "old"), (now - timedelta(days=400), officer, "young")],
    )
    assert (await housekeeping.sweep(pins.server.app[CONTEXT]))["staff_audit"] == 0
    clock.now = now  # … and now it is
    assert (await housekeeping.sweep(pins.server.app[CONTEXT]))["staff_audit"] == 1
    rows = await query(pins.dsn, "select betriebsnummer from pins.staff_audit")
    assert [r["betriebsnummer"] for r in rows] == ["young"]


async def test_a_confirmation_after_the_erasure_does_not_bring_the_member_back(pins) -> None:
    user_id = uuid4()
    confirmed = UserConfirmedV1(
        user_id=user_id,
        email="spaet@example.de",
        first_name="Sven",
        last_name="Spät",
        initial_password=seal(pins.public_key, "x" * 14),
        initial_password_expires_at=datetime.now(UTC) + timedelta(days=14),
    )
    deleted = UserDeletedV1(user_id=user_id, deleted_at=datetime.now(UTC))
    publish = bus.publisher(pins.server.app[service.BROKER])

    async def handled(event) -> bool:
        return bool(await query(pins.dsn, "select 1 from pins.processed_events where event_id = $1", event.event_id))

    for event in (deleted, confirmed):  # the two durables are not ordered with each other: this order
        await publish(event.SUBJECT, event.model_dump_json().encode(), str(event.event_id))
        await until(lambda: handled(event), f"{event.SUBJECT} handled")  # noqa: B023 (awaited here)
    assert not await query(pins.dsn, "select 1 from pins.members where user_id = $1", user_id)
    assert await query(pins.dsn, "select 1 from pins.member_tombstones where user_id = $1", user_id)

    context = pins.server.app[CONTEXT]
    pins.clock.now = deleted.occurred_at + housekeeping.TOMBSTONES - timedelta(minutes=1)
    assert (await housekeeping.sweep(context))["member_tombstones"] == 0
    pins.clock.now = deleted.occurred_at + housekeeping.TOMBSTONES + timedelta(minutes=1)
    assert (await housekeeping.sweep(context))["member_tombstones"] >= 1
    assert not await query(pins.dsn, "select 1 from pins.member_tombstones where user_id = $1", user_id)
    assert housekeeping.TOMBSTONES == timedelta(days=31)
