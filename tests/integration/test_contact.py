"""The contact form end to end: through the gateway to notifications and the real mail catcher.

The request always reaches support; a copy only a signed-in member's own address, never an address
someone typed in. One answer for every case, nothing stored for bad input or over a limit, and the
hourly cap for everyone holds when many requests arrive at once."""

import asyncio
import json
import secrets

import aiohttp
import pytest

from runtime import identity
from tests.support.client import Client, new_email, query
from tests.support.members import member_with_own_password
from tests.support.wait import until

pytestmark = pytest.mark.integration

SUPPORT = "kundenportal@hwk-wiesbaden.de"
PHONE = "0611 136-444"
PATH = "/api/v1/notifications/contact"
ACCEPTED = {"status": "accepted", "message": "Vielen Dank für Ihre Nachricht. Wir melden uns schnellstmöglich."}


def form(email: str, **changes) -> dict:
    marker = secrets.token_hex(6)
    return {
        "name": "Erika Müller",
        "email": email,
        "betriebsnummer": "1234567",
        "betriebsname": "Müller Elektro GmbH",
        "message": f"Ich finde meine PIN nicht mehr <b>{marker}</b>.\nViele Grüße",
        **changes,
    }


def marker_of(body: dict) -> str:
    return body["message"].split("<b>")[1].split("</b>")[0]


async def mails_of_request(portal, marker: str) -> list:
    """Every mail row the request carrying `marker` made, once all of them went out."""

    async def all_sent():
        rows = await query(
            portal.database_url,
            "select kind, recipient, state from notifications.mails where source_event_id in"
            " (select source_event_id from notifications.mails"
            "  where kind = 'contact_request' and context->>'message' like '%' || $1 || '%')",
            marker,
        )
        return rows if rows and all(r["state"] == "sent" for r in rows) else None

    return await until(all_sent, f"the mails of contact request {marker} sent", timeout=30)


def caught_with(portal, marker: str) -> list:
    return portal.mail.find(lambda m: marker in m.text or marker in m.html)


async def test_an_anonymous_sender_naming_a_strangers_address_sends_the_stranger_nothing(portal) -> None:
    stranger = new_email("fremder")
    body = form(stranger, message=f"Günstige Uhren <b>{secrets.token_hex(6)}</b> bei https://evil.example")
    marker = marker_of(body)
    async with Client(portal.gateway_url) as client:
        status, answer = await client.api("POST", PATH, body)
    assert (status, answer) == (202, ACCEPTED)

    rows = await mails_of_request(portal, marker)
    # What the mail server got, not only what was queued: nothing to the stranger, the text only to support.
    assert portal.mail.find(lambda m: stranger in m.recipients) == []
    assert [m.to for m in caught_with(portal, marker)] == [SUPPORT]
    assert [(r["kind"], r["recipient"]) for r in rows] == [("contact_request", SUPPORT)]
    (request,) = caught_with(portal, marker)
    assert f"Reply-To: {stranger}" in request.raw.decode()
    assert "Angemeldet als: nicht angemeldet" in request.text


async def test_a_signed_in_member_gets_the_copy_at_their_own_address_even_if_they_typed_another(portal) -> None:
    stranger = new_email("fremder")
    async with Client(portal.gateway_url) as client:
        member, _ = await member_with_own_password(portal, client, "kontaktmitglied")
        body = form(stranger)
        status, answer = await client.api("POST", PATH, body)
    assert (status, answer) == (202, ACCEPTED)  # the same answer as for anybody

    marker = marker_of(body)
    copy = await portal.mail.wait_for(lambda m: m.to == member and marker in m.text, timeout=30)
    assert copy.subject == "Ihre Nachricht an die Handwerkskammer"
    assert body["message"] in copy.text.replace("\r\n", "\n") and "<b>" not in copy.html
    rows = await mails_of_request(portal, marker)
    assert sorted((r["kind"], r["recipient"]) for r in rows) == [("contact_copy", member), ("contact_request", SUPPORT)]
    request = next(m for m in caught_with(portal, marker) if m.to == SUPPORT)
    assert f"Reply-To: {stranger}" in request.raw.decode() and member in request.text
    assert portal.mail.find(lambda m: stranger in m.recipients) == []
    assert sorted(m.to for m in caught_with(portal, marker)) == sorted([member, SUPPORT])


async def test_the_page_form_sends_and_shows_the_notice(portal) -> None:
    body = form(new_email("kontaktseite"))
    async with Client(portal.gateway_url) as client:
        status, _, headers = await client.page("POST", "/kontakt", body)
        assert status == 303 and headers["Location"] == "/kontakt?hinweis=gesendet"
        status, html, _ = await client.page("GET", headers["Location"])
    assert status == 200 and "Vielen Dank für Ihre Nachricht." in html and "Kopie haben wir" not in html
    await portal.mail.wait_for(lambda m: m.to == SUPPORT and marker_of(body) in m.text, timeout=30)


async def stored_for(portal, email: str) -> list:
    return await query(
        portal.database_url,
        "select 'mail' from notifications.mails where lower(recipient) = lower($1)"
        "  or lower(context->>'reply_to') = lower($1)"
        " union all select 'request' from notifications.contact_requests where address_key = lower($1)",
        email,
    )


async def test_bad_input_stores_nothing(portal) -> None:
    email = new_email("kontaktfehler")
    async with Client(portal.gateway_url) as client:
        status, answer = await client.api("POST", PATH, form(email, message="kurz", betriebsnummer="12a"))
    assert status == 422
    assert set(answer["error"]["fields"]) == {"message", "betriebsnummer"}
    assert await stored_for(portal, email) == []


@pytest.mark.parametrize("field", ["name", "betriebsname", "message", "email", "betriebsnummer"])
async def test_nul_and_control_characters_are_a_german_4xx_and_store_nothing(portal, field) -> None:
    email = new_email("kontaktnul")
    body = form(email)
    body[field] = {"email": email + "\x00", "betriebsnummer": "123\x1b4567"}.get(field, body[field] + "\x00\x1b[2J")
    async with Client(portal.gateway_url) as client:
        status, answer = await client.api("POST", PATH, body)
    assert status == 422, answer
    assert answer["error"]["fields"][field].startswith("Dieses Feld enthält unsichtbare Steuerzeichen.")
    assert await stored_for(portal, email) == []


def signed(portal, client_address: str, body: bytes) -> dict[str, str]:
    """As the gateway would sign this very request for `client_address`, anonymous."""
    signer = identity.Signer(portal.secrets.identity_private_key)
    return {
        **signer.headers(identity.Identity(user="", client=client_address), "POST", PATH, body),
        "Content-Type": "application/json",
    }


async def contact_from(portal, client_address: str, body: dict) -> tuple[int, dict, dict]:
    """Straight to notifications, so that every request can come from a client of its own."""
    raw = json.dumps(body).encode()
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{portal.url('notifications')}{PATH}", data=raw, headers=signed(portal, client_address, raw)
        ) as response,
    ):
        return response.status, await response.json(), dict(response.headers)


async def test_one_address_may_be_named_at_most_five_times_an_hour(portal) -> None:
    email = new_email("kontaktlimit")
    for n in range(5):
        assert (await contact_from(portal, f"198.51.100.{n}", form(email)))[0] == 202
    status, answer, _ = await contact_from(portal, "198.51.100.99", form(email.upper()))
    assert status == 429 and answer["error"]["code"] == "contact_limit"
    assert len(await stored_for(portal, email)) == 5 + 5  # five requests, each one mail to support


async def test_one_client_may_write_five_times_an_hour(portal) -> None:
    client = f"203.0.113.{secrets.randbelow(250)}"
    for _ in range(5):
        assert (await contact_from(portal, client, form(new_email("kontaktclient"))))[0] == 202
    assert (await contact_from(portal, client, form(new_email("kontaktclient"))))[0] == 429


async def test_the_hourly_cap_for_everyone_holds_under_50_parallel_requests(portal_factory) -> None:
    cap = 10
    own = await portal_factory(services=["notifications"], env={"notifications": {"PORTAL_CONTACT_PER_HOUR": str(cap)}})
    answers = await asyncio.gather(
        *(contact_from(own, f"198.51.100.{n}", form(new_email(f"kontaktflut{n}"))) for n in range(50))
    )

    statuses = [status for status, _, _ in answers]
    assert statuses.count(202) == cap and statuses.count(429) == 50 - cap
    for status, answer, headers in answers:
        if status == 429:
            assert answer["error"]["code"] == "contact_busy"
            assert PHONE in answer["error"]["message"] and SUPPORT in answer["error"]["message"]
            assert 3000 <= int(headers["Retry-After"]) <= 3601
    rows = await query(own.database_url, "select kind from notifications.mails")
    assert [r["kind"] for r in rows] == ["contact_request"] * cap
    assert len(await query(own.database_url, "select 1 from notifications.contact_requests")) == cap
