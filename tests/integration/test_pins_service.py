"""pins in this process on the real Postgres and NATS, its clock in the test's hand: the register
import, PIN letters, linking, throttling, the member area and the yearly issue."""

import contextlib
import secrets
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from contracts import UserConfirmedV1
from runtime import bus, service
from runtime.crypto import seal, unseal
from runtime.sessions import SessionUser, epoch_ms
from services.pins import annual
from services.pins.app import CONTEXT
from tests.support import pins as support
from tests.support.client import query
from tests.support.identity import signed
from tests.support.pins import (
    SECRET,
    businesses,
    csv,
    events,
    member,
    number,
    pins_in_process,
    request_pin,
    row,
    run_cli,
)
from tests.support.wait import until

pytestmark = pytest.mark.integration


@pytest.fixture
async def pins_factory(postgres, nats_server):
    async with contextlib.AsyncExitStack() as stack:
        yield lambda **overrides: stack.enter_async_context(pins_in_process(postgres, nats_server, **overrides))


@pytest.fixture
async def pins(pins_factory):
    return await pins_factory()


async def published(client) -> int:
    """Wait until the relay has published every outbox row; how many are left (0)."""

    async def done() -> bool:
        rows = await query(client.dsn, "select count(*) as n from pins.outbox where published_at is null")
        return rows[0]["n"] == 0

    await until(done, "every outbox row published", timeout=10)
    return 0


async def call(client, method: str, path: str, body=None, user: str = "", address: str = "192.0.2.7"):
    status, data, _ = await support.call(client, method, path, body, user, address)
    return status, data


async def link(client, user: str, n: str, pin: str, address: str = "192.0.2.7"):
    status, data, _ = await support.link(client, user, n, pin, address)
    return status, data


async def test_request_then_link_then_the_member_area(pins) -> None:
    n, user = number(), member()
    await businesses(pins, n)
    status, body = await call(pins, "POST", "/api/v1/pins/requests", {"betriebsnummer": f" {n} "}, user)
    assert status == 202 and body["status"] == "accepted" and "Anschrift Ihres Betriebs" in body["message"]
    assert body["request"]["state"] == "requested" and "business_name" not in body["request"]
    assert "Malerei" not in body["message"]  # the business's data stay behind the PIN
    [event] = await events(pins, "pin.requested.v1")
    assert event["reason"] == "user_request" and event["address"]["street"] == "Hauptstraße 1"
    assert (
        event["requested_by_user_id"] == user.split(":")[0] and event["valid_until"] == body["request"]["valid_until"]
    )
    pin = unseal(pins.private_key, event["pin"])
    assert len(pin) == 9 and pin[4] == "-"
    stored = await query(pins.dsn, "select pin_hash from pins.pin_letters")
    assert pin.encode() not in stored[0]["pin_hash"] and pin.replace("-", "").encode() not in stored[0]["pin_hash"]

    status, body = await call(pins, "GET", "/api/v1/pins/businesses/mine", user=user)
    assert status == 403 and body["error"]["code"] == "not_linked"
    typed = f" {pin[:2].lower()} {pin[2:4]}-{pin[5:].lower()} "
    status, body = await link(pins, user, n, typed)
    assert status == 200 and body["status"] == "linked" and "abgemeldet" in body["message"]
    [linked] = await events(pins, "pin.linked.v1")
    assert linked["user_id"] == user.split(":")[0] and linked["business_email"] == "info@mueller.de"

    status, body = await call(pins, "GET", "/api/v1/pins/businesses/mine", user=user)
    assert status == 200
    [business] = body["businesses"]
    assert business["betriebsnummer"] == n and business["address"]["postal_code"] == "65183"
    assert [a["user_id"] for a in business["linked_accounts"]] == [user.split(":")[0]]
    assert [(letter["reason"], letter["state"]) for letter in business["letters"]] == [("user_request", "used")]
    status, body = await call(pins, "GET", "/api/v1/pins/requests", user=user)
    assert status == 200 and body["requests"][0]["state_label"] == "Verwendet"

    assert (await link(pins, user, n, pin))[1]["error"]["code"] == "pin_used"  # single use...
    assert (await call(pins, "GET", "/api/v1/pins/businesses/mine", user=member()))[0] == 403
    assert (await call(pins, "GET", "/api/v1/pins/businesses/mine"))[0] == 401
    assert await published(pins) == 0  # the relay publishes both events to JetStream


async def test_a_pin_is_used_once_and_expires(pins) -> None:
    n, first, second = number(), member(), member()
    await businesses(pins, n)
    pin = await request_pin(pins, first, n)
    assert (await link(pins, first, n, pin))[0] == 200
    status, body = await link(pins, second, n, pin)
    assert status == 422 and body["error"]["fields"]["pin"] == "Diese PIN wurde bereits verwendet."
    assert (await link(pins, first, n, pin))[1]["error"]["code"] == "pin_used"

    other = number()
    await businesses(pins, other)
    pin = await request_pin(pins, first, other)
    pins.clock.advance(days=31)
    status, body = await link(pins, first, other, pin)
    assert (
        status == 422
        and body["error"]["fields"]["pin"] == "Diese PIN ist abgelaufen. Bitte fordern Sie eine neue PIN an."
    )


async def test_a_second_letter_does_not_cancel_the_first(pins) -> None:
    n, first, second = number(), member(), member()
    await businesses(pins, n)
    pin_one = await request_pin(pins, first, n)
    pins.clock.advance(days=8)
    pin_two = await request_pin(pins, second, n)
    assert pin_one != pin_two
    assert (await link(pins, first, n, pin_one))[0] == 200
    assert (await link(pins, second, n, pin_two))[0] == 200
    status, body = await call(pins, "GET", "/api/v1/pins/businesses/mine", user=first)
    assert len(body["businesses"][0]["linked_accounts"]) == 2


async def test_a_wrong_pin_and_an_unknown_business_say_the_same(pins) -> None:
    n, user = number(), member()
    await businesses(pins, n)
    pin = await request_pin(pins, user, n)
    wrong = "ABCD-EFGH" if pin != "ABCD-EFGH" else "HGFE-DCBA"
    status, body = await link(pins, user, n, wrong)
    assert status == 422 and body["error"]["code"] == "pin_wrong"
    assert (
        body["error"]["fields"]["pin"] == "Diese PIN ist nicht korrekt. Bitte prüfen Sie die PIN aus Ihrem PIN-Brief."
    )
    status, unknown = await link(pins, user, number(), pin)
    assert status == 422 and unknown["error"] == body["error"]
    assert (await link(pins, user, n, pin))[0] == 200


async def test_bad_input_is_explained_and_stores_nothing(pins) -> None:
    n, user = number(), member()
    await businesses(pins, n)
    session = SessionUser(UUID(user), uuid4(), epoch_ms(pins.clock())).header()
    async with pins.post("/api/v1/pins/links", **signed("POST", "/api/v1/pins/links", user=session, raw=b"{nope")) as r:
        assert r.status == 400
    for body, field in (
        ({}, "betriebsnummer"),
        ({"betriebsnummer": "12a"}, "betriebsnummer"),
        ({"betriebsnummer": n, "pin": "ABC"}, "pin"),
        ({"betriebsnummer": n, "pin": "ABCD-EFG0"}, "pin"),
        ({"betriebsnummer": n, "pin": 12345678}, "pin"),
        ({"betriebsnummer": n, "pin": "x" * 10_000}, "pin"),
    ):
        status, answer = await call(pins, "POST", "/api/v1/pins/links", body, user)
        assert status == 422 and field in answer["error"]["fields"], (body, answer)
    unknown = number()
    status, answer = await call(pins, "POST", "/api/v1/pins/requests", {"betriebsnummer": unknown}, user)
    assert status == 422 and answer["error"]["fields"]["betriebsnummer"].startswith(
        "Diese Betriebsnummer ist uns nicht bekannt"
    )
    assert (await call(pins, "POST", "/api/v1/pins/requests", {"betriebsnummer": n}))[0] == 401
    assert (await call(pins, "POST", "/api/v1/pins/links", {"betriebsnummer": n, "pin": "ABCD-EFGH"}))[0] == 401
    assert await query(pins.dsn, "select 1 from pins.pin_letters") == []
    # malformed input costs nothing; an unknown number counts, as a wrong PIN does (test_pins_hardening)
    counted = await query(pins.dsn, "select betriebsnummer from pins.link_failures")
    assert [r["betriebsnummer"] for r in counted] == [unknown]


async def test_failed_links_are_throttled_per_member_and_released_with_time(pins) -> None:
    n, user = number(), member()
    await businesses(pins, n)
    pin = await request_pin(pins, user, n)
    wrong = "ABCD-EFGH" if pin != "ABCD-EFGH" else "HGFE-DCBA"
    for _ in range(5):
        assert (await link(pins, user, n, wrong))[0] == 422
    status, body = await link(pins, user, n, pin)
    assert status == 429 and body["error"]["code"] == "link_throttled" and "Ihre PIN bleibt" in body["error"]["message"]
    pins.clock.advance(hours=1, seconds=1)
    assert (await link(pins, user, n, pin))[0] == 200


async def test_strangers_cannot_lock_the_real_member_out(pins_factory) -> None:
    pins = await pins_factory(
        link_failures_per_business_day=3, link_failures_per_client_hour=1000, link_failures_per_client_day=1000
    )
    n, real = number(), member()
    await businesses(pins, n)
    pin = await request_pin(pins, real, n)
    wrong = "ABCD-EFGH" if pin != "ABCD-EFGH" else "HGFE-DCBA"
    strangers = [member() for _ in range(4)]
    for stranger in strangers:
        assert (await link(pins, stranger, n, wrong, "198.51.100.9"))[0] == 422
    status, body = await link(pins, strangers[0], n, wrong, "198.51.100.9")
    assert status == 429  # under attack: one failure per member and business a day
    assert (await link(pins, real, n, pin))[0] == 200


async def test_letters_on_request_are_limited(pins) -> None:
    n, first, second = number(), member(), member()
    await businesses(pins, n)
    await request_pin(pins, first, n)
    status, body = await call(pins, "POST", "/api/v1/pins/requests", {"betriebsnummer": n}, second)
    assert status == 429 and body["error"]["code"] == "pin_request_limit"
    assert "bereits ein PIN-Brief unterwegs" in body["error"]["message"] and "ab dem" in body["error"]["message"]
    pins.clock.advance(days=7, seconds=1)
    await request_pin(pins, second, n)
    pins.clock.advance(days=8)
    assert (await call(pins, "POST", "/api/v1/pins/requests", {"betriebsnummer": n}, first))[0] == 429  # 2 in 30 days
    user = member()
    for _ in range(3):
        other = number()
        await businesses(pins, other)
        await request_pin(pins, user, other)
    other = number()
    await businesses(pins, other)
    status, body = await call(pins, "POST", "/api/v1/pins/requests", {"betriebsnummer": other}, user)
    assert status == 429 and "Sie haben in den letzten 30 Tagen" in body["error"]["message"]


async def test_the_member_area_names_fellow_members_from_user_confirmed(pins) -> None:
    n, user = number(), member()
    user_id = user.split(":")[0]
    await businesses(pins, n)
    assert (await link(pins, user, n, await request_pin(pins, user, n)))[0] == 200
    event = UserConfirmedV1(
        user_id=user_id,
        email="erika@example.de",
        first_name="Erika",
        last_name="Muster",
        initial_password=seal(pins.public_key, "x" * 14),
        initial_password_expires_at=datetime.now(UTC) + timedelta(days=14),
    )
    publish = bus.publisher(pins.server.app[service.BROKER])
    await publish(event.SUBJECT, event.model_dump_json().encode(), str(event.event_id))
    await until(
        lambda: query(pins.dsn, "select 1 from pins.members where user_id = $1", UUID(user_id)),
        "member projected from user.confirmed.v1",
    )
    status, body = await call(pins, "GET", "/api/v1/pins/businesses/mine", user=user)
    [account] = body["businesses"][0]["linked_accounts"]
    assert account["name"] == "Erika Muster" and account["email"] == "erika@example.de"


async def test_the_register_import_from_the_command_line(pins) -> None:
    n1, n2, n3, user = number(), number(), number(), member()
    path = Path(tempfile.gettempdir()) / f"betriebe-{secrets.token_hex(4)}.csv"
    env = {"PORTAL_DATABASE_URL": pins.dsn}
    try:
        path.write_bytes(b"\xef\xbb\xbf" + csv(row(n1), row(n2), row(n3)))
        done = run_cli("import-businesses", str(path), **env)
        assert done.returncode == 0, done.stderr
        assert "Neu / new:                  3" in done.stdout

        path.write_bytes(csv(row(n1, "Neuer Name"), "x;kaputt;;1;Ort;;", row(n2)))
        done = run_cli("import-businesses", str(path), **env)
        assert done.returncode == 1 and "Zeile 3: Die Betriebsnummer muss aus 1 bis 20 Ziffern bestehen." in done.stderr
        assert (await query(pins.dsn, "select name from pins.businesses where betriebsnummer = $1", n1))[0][
            "name"
        ] == "Malerei Müller GmbH"

        assert (await link(pins, user, n3, await request_pin(pins, user, n3)))[0] == 200
        path.write_bytes(csv(row(n1, "Neuer Name"), row(n2)))
        done = run_cli("import-businesses", str(path), "--full", "--max-delete", "1", **env)  # 1 of 3: over 5 %
        assert done.returncode == 0, done.stderr
        assert "Geändert / updated:         1" in done.stdout and "Unverändert / unchanged:    1" in done.stdout
        assert "Gelöscht / deleted:         1" in done.stdout and "links ended: 1" in done.stdout
        assert (await call(pins, "GET", "/api/v1/pins/businesses/mine", user=user))[0] == 403
        assert (await call(pins, "POST", "/api/v1/pins/requests", {"betriebsnummer": n3}, member()))[0] == 422

        path.write_bytes(csv(row(n3)))
        done = run_cli("import-businesses", str(path), **env)
        assert "Geändert / updated:         1" in done.stdout  # back again
        assert (await query(pins.dsn, "select deleted_at from pins.businesses where betriebsnummer = $1", n3))[0][
            "deleted_at"
        ] is None
    finally:
        path.unlink(missing_ok=True)


async def test_the_yearly_issue_resumes_and_never_repeats(pins) -> None:
    numbers = sorted(number() for _ in range(25))
    await businesses(pins, *numbers)
    context = pins.server.app[CONTEXT]
    first = await annual.issue(context, 2031, batch=10, stop_after=1)  # interrupted after one batch
    assert (first.issued_now, first.issued_total, first.already_finished) == (10, 10, False)
    rest = await annual.issue(context, 2031, batch=10)
    assert (rest.issued_now, rest.issued_total) == (15, 25)
    again = await annual.issue(context, 2031, batch=10)
    assert again.already_finished and again.issued_now == 0
    yearly = [e for e in await events(pins, "pin.requested.v1") if e["reason"] == "annual_notice"]
    assert sorted(e["betriebsnummer"] for e in yearly) == numbers and all(
        e["requested_by_user_id"] is None for e in yearly
    )
    env = {
        "PORTAL_DATABASE_URL": pins.dsn,
        "PORTAL_PINS_SECRET": SECRET,
        "PORTAL_PRINTSHOP_PUBLIC_KEY": pins.public_key,
    }
    done = run_cli("issue-annual-pins", "--year", "2031", **env)
    assert done.returncode == 0 and "bereits abgeschlossen" in done.stdout, done.stderr
    pin = unseal(pins.private_key, yearly[0]["pin"])  # the yearly PIN links like any other
    assert (await link(pins, member(), yearly[0]["betriebsnummer"], pin))[0] == 200


async def test_the_benchmarks_run_on_a_small_register(postgres) -> None:
    from tests.bench import bench_annual, bench_import
    from tests.bench.common import database

    async with database("bench_smoke", postgres) as dsn:
        assert set(await bench_import.measure(dsn, 300)) >= {"first import", "unchanged re-import"}
    async with database("bench_smoke", postgres) as dsn:
        assert "yearly issue" in await bench_annual.measure(dsn, 1200)
