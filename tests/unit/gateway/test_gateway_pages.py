import re

import pytest

from tests.support.identity import verified
from tests.unit.gateway.html_checks import assert_no_inline_script_or_style

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
REGISTRATIONS = ("POST", "/api/v1/accounts/registrations")
CONFIRM = ("POST", "/api/v1/accounts/registrations/confirm")
PAGES = [
    "/",
    "/registrieren",
    "/registrieren/gesendet?email=a%40b.de",
    "/login",
    "/hilfe",
    "/passwort-vergessen",
    "/passwort-zuruecksetzen?token=t0k3n",
    "/registrierung/bestaetigen?token=t0k3n",
    "/gibt-es-nicht",
    "/kontakt",
]


def field_input(html: str, name: str) -> str:
    return re.search(rf'<input id="{name}"[^>]*>', html)[0]


@pytest.mark.parametrize("path", PAGES)
async def test_pages_are_german_html_without_inline_script_or_style(gateway, path):
    response = await gateway.get(path)
    html = await response.text()
    assert response.content_type == "text/html"
    assert '<html lang="de">' in html
    assert html.count("<h1") == 1
    assert '<a class="skip" href="#inhalt">Zum Inhalt springen</a>' in html and 'id="inhalt"' in html
    assert '<a href="/kontakt">Kontaktformular</a>' in html
    assert "Kundenportal – Handwerkskammer Wiesbaden" in html
    assert '<a class="login" href="/login">Login</a>' in html
    assert "Noch Fragen? Kontaktieren Sie uns!" in html
    assert "kundenportal@hwk-wiesbaden.de" in html and "0611 136-444" in html
    assert '<a href="/hilfe">' in html
    assert_no_inline_script_or_style(html)
    assert html.count("<form") == html.count('<button class="button') == html.count('type="submit"')


async def test_start_page(gateway):
    html = await (await gateway.get("/")).text()
    assert "Registrieren und Vorteile nutzen: Der exklusive Mitgliederbereich!" in html
    assert "Ihr persönlicher Kundenbereich" in html
    assert 'href="/registrieren">neu registrieren</a>' in html
    assert "Mit Betrieb verknüpfen" in html
    assert "Entwicklungsmodus" not in html


async def test_start_page_links_the_mail_inbox_in_dev_mode(accounts, start_gateway):
    gateway = await start_gateway(accounts_url=accounts.url, dev_mode=True, mail_inbox_url="http://127.0.0.1:8025/")
    html = await (await gateway.get("/")).text()
    assert "Entwicklungsmodus" in html and 'href="http://127.0.0.1:8025/"' in html


async def test_registration_form_labels_every_field(gateway):
    html = await (await gateway.get("/registrieren")).text()
    for name, label in [
        ("first_name", "Vorname"),
        ("last_name", "Name"),
        ("email", "E-Mail-Adresse"),
        ("birth_date", "Geburtsdatum"),
    ]:
        assert f'<label for="{name}">{label}</label>' in html
        tag = field_input(html, name)
        assert " required" in tag and "autocomplete=" in tag
    assert 'type="date"' in field_input(html, "birth_date")
    assert "Die E-Mail-Adresse wird Ihr Benutzername." in html


async def test_registration_sends_json_and_redirects(gateway, accounts):
    accounts.answers[REGISTRATIONS] = (202, {"status": "accepted"})
    response = await gateway.post(
        "/registrieren",
        headers=SAME_ORIGIN,
        allow_redirects=False,
        data={
            "first_name": " Anna ",
            "last_name": "Muster",
            "email": "anna@example.de",
            "birth_date": "31.01.1980",
        },
    )
    assert response.status == 303
    assert response.headers["Location"] in (
        "/registrieren/gesendet?email=anna%40example.de",
        "/registrieren/gesendet?email=anna@example.de",
    )
    (call,) = accounts.calls
    assert call.json() == {
        "first_name": "Anna",
        "last_name": "Muster",
        "email": "anna@example.de",
        "birth_date": "1980-01-31",
    }
    assert verified(call) is not None

    html = await (await gateway.get(response.headers["Location"])).text()
    assert "Sie erhalten umgehend eine Registrierungs-E-Mail" in html
    assert "Dann werden Sie im Spam-Ordner fündig." in html
    assert 'value="anna@example.de"' in html and "E-Mail erneut senden" in html


async def test_registration_errors_are_shown_next_to_their_fields(gateway, accounts):
    accounts.answers[REGISTRATIONS] = (
        422,
        {
            "error": {
                "code": "invalid_input",
                "message": "Bitte prüfen Sie Ihre Eingaben.",
                "fields": {
                    "email": "Meinten Sie <gmail.com>?",
                    "birth_date": "Bitte geben Sie ein gültiges Datum ein (TT.MM.JJJJ).",
                },
            }
        },
    )
    response = await gateway.post(
        "/registrieren",
        headers=SAME_ORIGIN,
        data={
            "first_name": "Anna",
            "last_name": "Muster",
            "email": "anna@gmial.com",
            "birth_date": "1980-01-31",
            "email_confirmed_as_typed": "1",
        },
    )
    html = await response.text()
    assert response.status == 422
    assert (
        '<div class="alert alert-error" role="alert" id="fehlerliste" tabindex="-1">\n'
        "  <p>Bitte prüfen Sie Ihre Eingaben.</p>"
    ) in html
    assert '<a href="#email">E-Mail-Adresse: Meinten Sie &lt;gmail.com&gt;?</a>' in html
    assert '<a href="#birth_date">Geburtsdatum: Bitte geben Sie' in html
    # confirmed once: accounts' answer on another field does not bring the typo question back
    assert '<input type="hidden" name="email_confirmed_for" value="anna@gmial.com">' in html
    email = field_input(html, "email")
    assert 'aria-invalid="true"' in email and 'aria-describedby="email-hinweis email-fehler"' in email
    assert 'value="anna@gmial.com"' in email
    assert '<p class="field-error" id="email-fehler">Meinten Sie &lt;gmail.com&gt;?</p>' in html
    assert 'id="birth_date-fehler"' in html
    assert "aria-invalid" not in field_input(html, "first_name")
    assert 'value="Anna"' in field_input(html, "first_name")


async def test_registration_when_accounts_is_down(accounts, start_gateway):
    gateway = await start_gateway()
    response = await gateway.post("/registrieren", headers=SAME_ORIGIN, data={"email": "a@b.de"})
    assert response.status == 503
    assert "Der Dienst ist gerade nicht erreichbar." in await response.text()


async def test_resend(gateway, accounts):
    accounts.answers[("POST", "/api/v1/accounts/registrations/resend")] = (202, {})
    response = await gateway.post("/registrieren/erneut-senden", headers=SAME_ORIGIN, data={"email": "anna@example.de"})
    assert response.status == 200
    assert accounts.calls[0].json() == {"email": "anna@example.de"}
    assert "erneut zugesandt" in await response.text()


async def test_confirmation_link_only_shows_a_form(gateway, accounts):
    response = await gateway.get("/registrierung/bestaetigen?token=t0k3n")
    html = await response.text()
    assert response.status == 200
    assert '<input type="hidden" name="token" value="t0k3n">' in html
    assert '<button class="button button-primary" type="submit">Registrierung bestätigen</button>' in html
    assert accounts.calls == []


async def test_confirmation_post_calls_accounts(gateway, accounts):
    accounts.answers[CONFIRM] = (200, {"status": "confirmed"})
    response = await gateway.post("/registrierung/bestaetigen", headers=SAME_ORIGIN, data={"token": "t0k3n"})
    html = await response.text()
    assert response.status == 200
    assert "Vielen Dank! Ihre E-Mail-Adresse ist bestätigt." in html and 'href="/login"' in html
    assert accounts.calls[0].json() == {"token": "t0k3n"}


@pytest.mark.parametrize(
    "status,code,relink", [(410, "token_expired", True), (409, "token_used", False), (400, "token_invalid", False)]
)
async def test_confirmation_errors_show_accounts_message(gateway, accounts, status, code, relink):
    accounts.answers[CONFIRM] = (status, {"error": {"code": code, "message": f"Nachricht {code}.", "fields": {}}})
    response = await gateway.post("/registrierung/bestaetigen", headers=SAME_ORIGIN, data={"token": "t"})
    html = await response.text()
    assert response.status == status
    assert f"Nachricht {code}." in html
    assert ('href="/registrieren">erneut registrieren' in html) is relink


async def test_confirmation_without_token_is_400(gateway, accounts):
    assert (await gateway.get("/registrierung/bestaetigen")).status == 400
    response = await gateway.post("/registrierung/bestaetigen", headers=SAME_ORIGIN, data={})
    assert response.status == 400
    assert accounts.calls == []


async def test_help_and_not_found_pages(gateway):
    html = await (await gateway.get("/hilfe")).text()
    assert "Häufig gestellte Fragen zum Kundenportal" in html
    assert "Dann werden Sie im Spam-Ordner fündig." in html
    assert "Beitragsbescheid" in html
    response = await gateway.get("/gibt-es-nicht")
    assert response.status == 404
    assert "Seite nicht gefunden" in await response.text()
