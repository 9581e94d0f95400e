"""The contact form end to end: through the gateway to notifications, both mails at the mail
catcher, and nothing stored for bad input or over the limit."""

import secrets

import aiohttp
import pytest

from runtime import identity
from tests.support.client import Client, new_email, query

pytestmark = pytest.mark.integration

SUPPORT = "kundenportal@hwk-wiesbaden.de"


def form(email: str, **changes) -> dict:
    marker = secrets.token_hex(6)
    return {"name": "Erika Müller", "email": email, "betriebsnummer": "1234567",
            "betriebsname": "Müller Elektro GmbH",
            "message": f"Ich finde meine PIN nicht mehr <b>{marker}</b>.\nViele Grüße", **changes}


async def test_a_message_reaches_support_and_its_copy_the_sender(portal) -> None:
    email = new_email("kontakt")
    body = form(email)
    async with Client(portal.gateway_url) as client:
        status, answer = await client.api("POST", "/api/v1/notifications/contact", body)
    assert status == 202
    assert answer == {"status": "accepted", "message": (
        "Vielen Dank für Ihre Nachricht. Wir melden uns schnellstmöglich. Eine Kopie haben wir "
        "Ihnen per E-Mail gesandt.")}

    copy = await portal.mail.wait_for(lambda m: m.to == email, timeout=30)
    request = await portal.mail.wait_for(
        lambda m: m.to == SUPPORT and body["message"].splitlines()[0] in m.text, timeout=30)
    assert request.subject == "Kontaktanfrage aus dem Kundenportal – Betriebsnummer 1234567"
    assert f"Reply-To: {email}" in request.raw.decode()
    assert copy.subject == "Ihre Nachricht an die Handwerkskammer"
    for mail in (request, copy):
        assert body["message"] in mail.text.replace("\r\n", "\n")
        assert "<b>" not in mail.html and "&lt;b&gt;" in mail.html

    rows = await query(portal.database_url,
                       "select kind, source_event_id from notifications.mails where recipient = $1", email)
    assert [r["kind"] for r in rows] == ["contact_copy"]


async def test_the_page_form_sends_and_shows_the_notice(portal) -> None:
    email = new_email("kontaktseite")
    async with Client(portal.gateway_url) as client:
        status, _, headers = await client.page("POST", "/kontakt", form(email))
        assert status == 303 and headers["Location"] == "/kontakt?hinweis=gesendet"
        status, html, _ = await client.page("GET", headers["Location"])
    assert status == 200 and "Vielen Dank für Ihre Nachricht." in html
    await portal.mail.wait_for(lambda m: m.to == email, timeout=30)


async def test_bad_input_stores_nothing(portal) -> None:
    email = new_email("kontaktfehler")
    async with Client(portal.gateway_url) as client:
        status, answer = await client.api("POST", "/api/v1/notifications/contact",
                                          form(email, message="kurz", betriebsnummer="12a"))
    assert status == 422
    assert set(answer["error"]["fields"]) == {"message", "betriebsnummer"}
    rows = await query(portal.database_url, "select 1 from notifications.mails where recipient = $1", email)
    assert rows == []


async def contact_from(portal, client_address: str, body: dict) -> int:
    """Straight to notifications, signed as the gateway would for `client_address`."""
    headers = identity.sign(portal.internal_secret, identity.Identity(user="", client=client_address))
    async with aiohttp.ClientSession() as session, session.post(
        f"{portal.url('notifications')}/api/v1/notifications/contact", json=body, headers=headers
    ) as response:
        return response.status


async def test_one_address_gets_at_most_five_copies_an_hour(portal) -> None:
    email = new_email("kontaktlimit")
    for n in range(5):
        assert await contact_from(portal, f"198.51.100.{n}", form(email)) == 202
    assert await contact_from(portal, "198.51.100.99", form(email.upper())) == 429
    rows = await query(portal.database_url,
                       "select 1 from notifications.mails where lower(recipient) = lower($1)", email)
    assert len(rows) == 5


async def test_one_client_may_write_five_times_an_hour(portal) -> None:
    client = f"203.0.113.{secrets.randbelow(250)}"
    for _ in range(5):
        assert await contact_from(portal, client, form(new_email("kontaktclient"))) == 202
    assert await contact_from(portal, client, form(new_email("kontaktclient"))) == 429
