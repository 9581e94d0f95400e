"""pins under attack and with bad data (issue 8), on the real Postgres and NATS: throttles that hold
when the attempts come all at once, no answer that tells an unknown Betriebsnummer from a wrong
PIN, a register that fits the pin.requested.v1 contract, a yearly run that goes on past a business
it cannot issue, and control characters refused with a German 4xx."""

import asyncio
import json
from collections import Counter
from uuid import UUID

import pytest

from runtime import service
from services.pins import annual
from services.pins.app import CONTEXT
from services.pins.register import RegisterInvalid, import_register
from tests.support.client import query
from tests.support.pins import (
    SECRET,
    ask_for_pin,
    businesses,
    call,
    csv,
    events,
    link,
    member,
    number,
    pins_in_process,
    request_pin,
    row,
    run_cli,
    wrong_pin,
)

pytestmark = pytest.mark.integration

PARALLEL = 100
GERMAN = ("Bitte", "Eine PIN", "Diese Eingabe", "Dieses Feld")  # how the field messages of pins and runtime begin


@pytest.fixture
async def pins(postgres, nats_server):
    async with pins_in_process(postgres, nats_server) as client:
        yield client


def user_id(user: str) -> UUID:
    return UUID(user)


async def failures(pins, **where) -> int:
    column, value = next(iter(where.items()))
    rows = await query(pins.dsn, f"select count(*) as n from pins.link_failures where {column} = $1", value)
    return rows[0]["n"]


async def test_parallel_wrong_pins_of_one_member_check_at_most_the_allowance(pins) -> None:
    n, user = number(), member()
    await businesses(pins, n)
    pin = await request_pin(pins, user, n)
    answers = await asyncio.gather(*(link(pins, user, n, wrong_pin(pin)) for _ in range(PARALLEL)))
    assert Counter(status for status, _, _ in answers) == {422: 5, 429: PARALLEL - 5}
    refused = [(body, headers) for status, body, headers in answers if status == 429]
    assert all(body["error"]["code"] == "link_throttled" for body, _ in refused)
    assert all(int(headers["Retry-After"]) > 0 for _, headers in refused)
    assert await failures(pins, user_id=user_id(user)) == 5  # one row per PIN checked, none for a refusal
    pins.clock.advance(hours=1, seconds=1)
    assert (await link(pins, user, n, pin))[0] == 200


async def test_parallel_wrong_pins_from_one_address_check_at_most_its_allowance(pins) -> None:
    n, address = number(), "198.51.100.23"
    await businesses(pins, n)
    pin = await request_pin(pins, member(), n)
    answers = await asyncio.gather(*(link(pins, member(), n, wrong_pin(pin), address) for _ in range(PARALLEL)))
    assert Counter(status for status, _, _ in answers) == {422: 20, 429: PARALLEL - 20}
    assert await failures(pins, client=address) == 20


async def test_the_limits_settings_allow_are_the_limits_enforced(postgres, nats_server) -> None:
    async with pins_in_process(postgres, nats_server, link_failures_per_member_day=1000) as pins:
        n, user = number(), member()  # 999 failures today for another business, none in the last hour
        await businesses(pins, n)
        pin = await request_pin(pins, user, n)
        await query(
            pins.dsn,
            "insert into pins.link_failures (user_id, client, betriebsnummer, at)"
            " select $1, '203.0.113.5', $2, $3::timestamptz - interval '1 hour' - make_interval(secs => i)"
            " from generate_series(1, 999) as i",
            user_id(user),
            number(),
            pins.clock(),
        )
        assert (await link(pins, user, n, wrong_pin(pin)))[0] == 422  # the 1,000th
        status, _, headers = await link(pins, user, n, pin)
        assert status == 429 and int(headers["Retry-After"]) > 3000


async def test_a_right_pin_never_counts_as_a_failure(pins) -> None:
    n, user = number(), member()
    await businesses(pins, n)
    pin = await request_pin(pins, user, n)
    assert (await link(pins, user, n, pin))[0] == 200
    assert (await link(pins, member(), n, pin))[1]["error"]["code"] == "pin_used"  # right, but used: no guess
    assert await failures(pins, betriebsnummer=n) == 0


async def test_an_unknown_betriebsnummer_answers_and_counts_as_a_wrong_pin(pins) -> None:
    n, user = number(), member()
    await businesses(pins, n)
    pin = await request_pin(pins, user, n)
    wrong_status, wrong, wrong_headers = await link(pins, user, n, wrong_pin(pin))
    unknown_status, unknown, unknown_headers = await link(pins, user, number(), pin)
    assert wrong_status == unknown_status == 422 and wrong == unknown
    assert wrong["error"]["code"] == "pin_wrong"
    assert {h for h in wrong_headers if h.lower() != "date"} == {h for h in unknown_headers if h.lower() != "date"}

    # Asking for a letter to an unknown number says so (a typo would otherwise mean days of waiting
    # for a letter that never comes), but it costs an attempt, as a wrong PIN does.
    status, body, _ = await ask_for_pin(pins, user, number())
    assert status == 422 and body["error"]["fields"]["betriebsnummer"].startswith("Diese Betriebsnummer ist uns nicht")
    assert await failures(pins, user_id=user_id(user)) == 3
    for _ in range(2):
        assert (await link(pins, user, n, wrong_pin(pin)))[0] == 422
    status, body, headers = await link(pins, user, n, pin)
    assert status == 429 and body["error"]["code"] == "link_throttled" and "Retry-After" in headers

    # Throttled, every number answers alike: no way left to tell a known one from an unknown one.
    other = number()
    await businesses(pins, other)
    known, unknown = await ask_for_pin(pins, user, other), await ask_for_pin(pins, user, number())
    assert known[0] == unknown[0] == 429 and known[1] == unknown[1]
    assert await failures(pins, user_id=user_id(user)) == 5


async def test_the_answer_to_a_pin_request_names_no_business_data(pins) -> None:
    n, user = number(), member()
    await businesses(pins, n)
    status, body, _ = await ask_for_pin(pins, user, n)
    assert status == 202 and "Anschrift Ihres Betriebs" in body["message"]
    status, mine, _ = await call(pins, "GET", "/api/v1/pins/requests", user=user)
    assert status == 200 and mine["requests"][0]["betriebsnummer"] == n
    for answer in (body, mine):  # the PIN protects the business data: only a linked member sees them
        text = json.dumps(answer, ensure_ascii=False)
        assert "Malerei" not in text and "Wiesbaden" not in text and "65183" not in text, text


async def test_a_register_field_beyond_the_contract_is_refused_with_its_line(pins, tmp_path) -> None:
    path = tmp_path / "betriebe.csv"
    path.write_bytes(csv(row(number()), row(number(), city="W" * 150), row(number())))
    done = run_cli("import-businesses", str(path), PORTAL_DATABASE_URL=pins.dsn)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Zeile 3: Das Feld „Ort“ ist länger als 100 Zeichen." in done.stderr, done.stderr
    assert await query(pins.dsn, "select 1 from pins.businesses") == []


async def test_control_characters_in_the_register_are_refused_with_their_line(pins) -> None:
    pool = pins.server.app[service.POOL]
    data = csv(
        row(number()), row(number(), name="Malerei\x00Müller"), row(number()).replace("Maler und", "Maler\x07und")
    )
    with pytest.raises(RegisterInvalid) as refused:
        await import_register(pool, data, pins.clock())
    assert refused.value.problems == [
        "Zeile 3: Das Feld „Name“ enthält ein Steuerzeichen. Bitte entfernen Sie es.",
        "Zeile 4: Das Feld „Gewerk“ enthält ein Steuerzeichen. Bitte entfernen Sie es.",
    ]
    assert await query(pins.dsn, "select 1 from pins.businesses") == []


async def test_control_characters_from_a_member_get_a_german_4xx_and_store_nothing(pins) -> None:
    n, user = number(), member()
    await businesses(pins, n)
    for body in (
        {"betriebsnummer": f"{n}\x00", "pin": "ABCD-EFGH"},
        {"betriebsnummer": n, "pin": "ABCD\x00EFGH"},
        {"betriebsnummer": "\x00", "pin": "\x00"},
        {"betriebsnummer": n, "pin": "ABCD-EFGH\x1b"},
    ):
        status, answer, _ = await call(pins, "POST", "/api/v1/pins/links", body, user)
        assert status == 422 and answer["error"]["fields"], (body, answer)
        assert all(message.startswith(GERMAN) for message in answer["error"]["fields"].values()), answer
    status, answer, _ = await ask_for_pin(pins, user, f"{n}\x00")
    assert status == 422 and answer["error"]["fields"]["betriebsnummer"].startswith(GERMAN)
    assert await query(pins.dsn, "select 1 from pins.pin_letters") == []
    assert await query(pins.dsn, "select 1 from pins.link_failures") == []


async def bad_business_from_before(client, city: str) -> str:
    """A business stored before the import checked the contract's limits."""
    n = number()
    await query(
        client.dsn,
        "insert into pins.businesses (betriebsnummer, name, street, postal_code, city,"
        " imported_at, updated_at) values ($1, 'Altbetrieb GmbH', 'Weg 1', '65183', $2, now(), now())",
        n,
        city,
    )
    return n


async def test_the_yearly_run_skips_a_business_it_cannot_issue_and_issues_the_rest(pins) -> None:
    good = [number() for _ in range(5)]
    await businesses(pins, *good)
    bad = await bad_business_from_before(pins, "W" * 150)
    result = await annual.issue(pins.server.app[CONTEXT], 2032, batch=2)
    assert result.issued_now == 5 and not result.already_finished
    [skipped] = result.skipped
    assert (skipped.betriebsnummer, skipped.problems) == (bad, ["Das Feld „Ort“ ist länger als 100 Zeichen."])
    yearly = [e["betriebsnummer"] for e in await events(pins, "pin.requested.v1") if e["reason"] == "annual_notice"]
    assert sorted(yearly) == sorted(good)

    env = {
        "PORTAL_DATABASE_URL": pins.dsn,
        "PORTAL_PINS_SECRET": SECRET,
        "PORTAL_PRINTSHOP_PUBLIC_KEY": pins.public_key,
    }
    done = run_cli("issue-annual-pins", "--year", "2032", **env)  # again: the rest is done, the bad one still skipped
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"Betriebsnummer {bad}: Das Feld „Ort“ ist länger als 100 Zeichen." in done.stdout, done.stdout
    assert "0 neue PIN-Briefe" in done.stdout and "1 übersprungen" in done.stdout, done.stdout

    status, body, _ = await ask_for_pin(pins, member(), bad)  # a member asking for it: no 500 either
    assert status == 409 and body["error"]["code"] == "business_data_invalid"
    assert "kontaktieren Sie uns" in body["error"]["message"]
    assert await query(pins.dsn, "select 1 from pins.pin_letters where betriebsnummer = $1", bad) == []

    await query(pins.dsn, "update pins.businesses set city = 'Wiesbaden' where betriebsnummer = $1", bad)
    fixed = await annual.issue(pins.server.app[CONTEXT], 2032)  # once corrected, it gets its letter
    assert (fixed.issued_now, fixed.issued_total, fixed.skipped) == (1, 6, [])
