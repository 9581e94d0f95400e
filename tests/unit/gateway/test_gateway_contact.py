"""Kontakt: the page, the form filled in for a signed-in member, and posting to notifications."""

import re

from tests.support.identity import verified
from tests.unit.gateway.html_checks import assert_no_inline_script_or_style
from tests.unit.gateway.sessions_helpers import SAME_ORIGIN, cookie, signed_in

CONTACT = ("POST", "/api/v1/notifications/contact")
ME = ("GET", "/api/v1/accounts/me")
FORM = {
    "name": "Erika Müller",
    "email": "erika@example.de",
    "betriebsnummer": "1234567",
    "betriebsname": "Müller Elektro GmbH",
    "message": "Ich finde meine PIN nicht mehr.",
}
SENT = "Vielen Dank für Ihre Nachricht. Wir melden uns schnellstmöglich."


def tag(html: str, element: str, name: str) -> str:
    return re.search(rf'<{element} id="{name}"[^>]*>', html)[0]


def post(client, data, headers=None):
    return client.post("/kontakt", data=data, headers={**SAME_ORIGIN, **(headers or {})}, allow_redirects=False)


async def test_the_contact_page(contact_portal, notifications):
    response = await contact_portal.get("/kontakt")
    html = await response.text()
    assert response.status == 200
    assert html.count("<h1") == 1 and "<h1>Noch Fragen? Kontaktieren Sie uns!</h1>" in html
    assert (
        "Bitte nennen Sie uns Ihre Betriebsnummer und den Namen des Betriebs, damit wir Ihnen "
        "schnellstmöglich helfen können."
    ) in html
    assert 'href="mailto:kundenportal@hwk-wiesbaden.de"' in html and "0611 136-444" in html
    for name, label in [
        ("name", "Name"),
        ("email", "E-Mail-Adresse"),
        ("betriebsnummer", "Betriebsnummer (falls vorhanden)"),
        ("betriebsname", "Betriebsname (falls vorhanden)"),
        ("message", "Nachricht"),
    ]:
        assert f'<label for="{name}">{label}</label>' in html
    assert " required" in tag(html, "input", "name") and " required" in tag(html, "textarea", "message")
    assert " required" not in tag(html, "input", "betriebsnummer")
    assert 'aria-describedby="betriebsnummer-hinweis"' in tag(html, "input", "betriebsnummer")
    assert "Beitragsbescheid" in html
    # A copy goes only to a signed-in member's own account address, never to the address typed in.
    assert (
        '<p class="hint" id="email-hinweis">An diese Adresse antworten wir. Sind Sie angemeldet, erhalten '
        "Sie eine Kopie Ihrer Nachricht an die E-Mail-Adresse Ihres Kontos.</p>"
    ) in html
    assert 'value=""' in tag(html, "input", "name")
    assert '<a href="/kontakt">Kontaktformular</a>' in html
    assert_no_inline_script_or_style(html)
    assert notifications.calls == []


async def test_support_address_and_phone_come_from_the_settings(accounts, start_gateway):
    gateway = await start_gateway(
        accounts_url=accounts.url, support_email="hilfe@hwk.example", support_phone="0611 000-1"
    )
    html = await (await gateway.get("/kontakt")).text()
    assert 'href="mailto:hilfe@hwk.example"' in html and "0611 000-1" in html
    assert "kundenportal@hwk-wiesbaden.de" not in html


async def test_a_signed_in_member_finds_name_and_address_filled_in(contact_portal, accounts):
    signed_in(accounts)
    accounts.answers[ME] = (
        200,
        {"email": "anna@example.de", "first_name": "Anna", "last_name": "Muster", "businesses": []},
    )
    html = await (await contact_portal.get("/kontakt", headers=cookie("tok"))).text()
    assert 'value="Anna Muster"' in tag(html, "input", "name")
    assert 'value="anna@example.de"' in tag(html, "input", "email")


async def test_without_an_answer_from_accounts_the_form_is_empty(contact_portal, accounts):
    signed_in(accounts)
    accounts.answers[ME] = (401, {"error": {"code": "unauthenticated", "message": "x", "fields": {}}})
    response = await contact_portal.get("/kontakt", headers=cookie("tok"))
    assert response.status == 200
    assert 'value=""' in tag(await response.text(), "input", "email")


async def test_sending_posts_json_to_notifications_and_redirects(contact_portal, notifications):
    notifications.answers[CONTACT] = (202, {"status": "accepted", "message": SENT})
    response = await post(contact_portal, {**FORM, "name": "  Erika Müller "})
    assert response.status == 303 and response.headers["Location"] == "/kontakt?hinweis=gesendet"
    (call,) = notifications.calls
    assert call.json() == FORM
    assert verified(call).client == "127.0.0.1"

    html = await (await contact_portal.get(response.headers["Location"])).text()
    assert f'<div class="alert alert-success" role="status"><p>{SENT}</p></div>' in html
    assert "Kopie haben wir" not in html  # the notice never says whether or where a copy went
    assert "Ich finde meine PIN" not in html  # a fresh, empty form


async def test_errors_are_shown_next_to_their_fields(contact_portal, notifications):
    notifications.answers[CONTACT] = (
        422,
        {
            "error": {
                "code": "invalid_input",
                "message": "Bitte prüfen Sie Ihre Eingaben.",
                "fields": {
                    "message": "Bitte schreiben Sie uns Ihr Anliegen in mindestens 10 Zeichen.",
                    "email": "Bitte geben Sie eine gültige E-Mail-Adresse ein, z. B. name@beispiel.de.",
                },
            }
        },
    )
    response = await post(contact_portal, {**FORM, "message": "Hilfe <b>", "email": "erika@"})
    html = await response.text()
    assert response.status == 422
    assert 'role="alert"' in html and "Bitte prüfen Sie Ihre Eingaben." in html
    assert '<a href="#message">Nachricht: Bitte schreiben Sie uns' in html
    assert '<a href="#email">E-Mail-Adresse: Bitte geben Sie' in html
    textarea = tag(html, "textarea", "message")
    assert 'aria-invalid="true"' in textarea and 'aria-describedby="message-hinweis message-fehler"' in textarea
    assert '<p class="field-error" id="message-fehler">' in html
    assert ">Hilfe &lt;b&gt;</textarea>" in html  # kept, escaped
    assert 'value="Müller Elektro GmbH"' in tag(html, "input", "betriebsname")


async def test_too_many_messages(contact_portal, notifications):
    message = "Sie haben uns in der letzten Stunde schon mehrere Nachrichten gesandt."
    notifications.answers[CONTACT] = (429, {"error": {"code": "contact_limit", "message": message, "fields": {}}})
    response = await post(contact_portal, FORM)
    assert response.status == 429
    html = await response.text()
    assert message in html and 'value="erika@example.de"' in html


async def test_too_many_for_everyone_names_phone_and_address(contact_portal, notifications):
    message = (
        "Über das Kontaktformular erreichen uns gerade sehr viele Nachrichten. Bitte rufen Sie uns an "
        "unter 0611 136-444 oder schreiben Sie eine E-Mail an kundenportal@hwk-wiesbaden.de."
    )
    notifications.answers[CONTACT] = (429, {"error": {"code": "contact_busy", "message": message, "fields": {}}})
    response = await post(contact_portal, FORM)
    assert response.status == 429
    html = await response.text()
    assert message in html and "Ich finde meine PIN nicht mehr." in html  # the text is kept for later


async def test_notifications_down(accounts, start_gateway):
    gateway = await start_gateway(accounts_url=accounts.url)
    response = await post(gateway, FORM)
    assert response.status == 503
    assert "Der Dienst ist gerade nicht erreichbar." in await response.text()


async def test_posting_from_another_site_is_refused(contact_portal, notifications):
    response = await contact_portal.post(
        "/kontakt", data=FORM, headers={"Origin": "https://evil.example"}, allow_redirects=False
    )
    assert response.status == 403 and notifications.calls == []
