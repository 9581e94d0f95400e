import re
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import pytest

from runtime.sessions import SESSION_END, SESSION_HEADER
from services.gateway.session_cache import cache_key
from services.pins.domain import REASON_LABELS, STATE_LABELS
from tests.support.identity import verified
from tests.unit.gateway.html_checks import assert_no_inline_script_or_style
from tests.unit.gateway.sessions_helpers import SAME_ORIGIN, Clock, cookie, new_cache, signed_in

MINE = ("GET", "/api/v1/pins/businesses/mine")
REQUESTS = ("GET", "/api/v1/pins/requests")
REQUEST = ("POST", "/api/v1/pins/requests")
LINK = ("POST", "/api/v1/pins/links")
LOGOUT = ("DELETE", "/api/v1/accounts/sessions/current")
GONE_COOKIE = "__Host-kp_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax; Secure"
LINKED = {
    "status": "linked",
    "message": "Ihr Konto ist jetzt mit Ihrem Betrieb verknüpft. Aus Sicherheitsgründen "
    "wurden Sie abgemeldet. Bitte melden Sie sich erneut an.",
}
NOT_LINKED = (403, {"error": {"code": "not_linked", "message": "Noch nicht verknüpft.", "fields": {}}})
THROTTLED = (429, {"error": {"code": "throttled", "message": "Zu viele Versuche. Bitte warten Sie.", "fields": {}}})
SIGNED_IN_HEADER = '<a class="login" href="/konto">zum Kundenportal</a>'
LOGIN_HEADER = '<a class="login" href="/login">Login</a>'
LETTERS = [
    {
        "betriebsnummer": "1234567",
        "business_name": "Tischlerei Muster",
        "requested_at": "2025-03-01T09:00:00+00:00",
        "valid_until": "2025-06-12",
        "state": "requested",
    },
    {
        "betriebsnummer": "7654321",
        "business_name": "Bäckerei Korn",
        "requested_at": "2024-01-31T23:30:00+00:00",
        "valid_until": "2024-04-30",
        "state": "used",
    },
    {
        "betriebsnummer": "7654321",
        "business_name": "Bäckerei Korn",
        "requested_at": "2023-01-10T10:00:00+00:00",
        "valid_until": "2023-04-10",
        "state": "expired",
    },
    {
        "betriebsnummer": "7654321",
        "business_name": "Bäckerei Korn",
        "requested_at": "2023-02-10T10:00:00+00:00",
        "valid_until": "2023-05-10",
        "state": "handed_over",
    },
    {
        "betriebsnummer": "7654321",
        "business_name": "Bäckerei Korn",
        "requested_at": "2023-02-10T10:00:00+00:00",
        "valid_until": "2023-05-10",
        "state": "on_hold",
        "state_label": "Zurückgestellt",
    },
]


def labelled(letter: dict) -> dict:
    """As pins sends a letter: with its own German words for state and reason."""
    labels = {"state_label": STATE_LABELS[letter["state"]]} if letter["state"] in STATE_LABELS else {}
    if "reason" in letter:
        labels["reason_label"] = REASON_LABELS[letter["reason"]]
    return {**letter, **labels}


LETTERS = [labelled(letter) for letter in LETTERS]


def business(other_user: str) -> dict:
    return {
        "betriebsnummer": "1234567",
        "name": "Tischlerei Muster",
        "address": {"street": "Hauptstraße 1", "postal_code": "65183", "city": "Wiesbaden"},
        "email": "info@tischlerei-muster.de",
        "trade": "Tischler",
        "linked_at": "2025-03-05T10:00:00+00:00",
        "linked_accounts": [
            {
                "user_id": other_user,
                "name": "Anna Muster",
                "email": "anna@example.de",
                "linked_at": "2025-03-05T10:00:00+00:00",
            },
            {
                "user_id": str(uuid4()),
                "name": "Bernd Muster",
                "email": "bernd@example.de",
                "linked_at": "2024-11-02T08:00:00+00:00",
            },
        ],
        "letters": [
            labelled(letter)
            for letter in (
                {
                    "requested_at": "2025-01-15T08:00:00+00:00",
                    "reason": "annual_notice",
                    "valid_until": "2025-04-15",
                    "state": "expired",
                },
                {
                    "requested_at": "2025-03-01T08:00:00+00:00",
                    "reason": "user_request",
                    "valid_until": "2025-05-31",
                    "state": "used",
                },
            )
        ],
    }


def post(gateway, path, data, token="tok"):
    return gateway.post(path, data=data, headers={**SAME_ORIGIN, **cookie(token)}, allow_redirects=False)


def assert_plain_page(html: str) -> None:
    assert '<html lang="de">' in html and "Noch Fragen? Kontaktieren Sie uns!" in html
    assert_no_inline_script_or_style(html)
    assert html.count("<form") == html.count('<button class="button') == html.count('type="submit"')


@pytest.mark.parametrize("path", ["/mein-betrieb", "/mein-betrieb/pin-anfordern", "/mein-betrieb/verknuepfen"])
async def test_pages_need_login(portal, pins, path):
    response = await portal.get(path, allow_redirects=False)
    # back to the page after the login (a form sent without a session starts over at the login)
    location = urlsplit(response.headers["Location"])
    assert response.status == 303 and (location.path, parse_qs(location.query)) == ("/login", {"weiter": [path]})
    if path != "/mein-betrieb":
        response = await portal.post(path, data={"betriebsnummer": "1"}, headers=SAME_ORIGIN, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == "/login"
    assert pins.calls == []


@pytest.mark.parametrize("path", ["/mein-betrieb", "/mein-betrieb/pin-anfordern", "/mein-betrieb/verknuepfen"])
async def test_pages_wait_for_the_own_password(portal, accounts, pins, path):
    signed_in(accounts, must_change=True)
    response = await portal.get(path, headers=cookie("tok"), allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/passwort-aendern"
    assert pins.calls == []


async def test_not_linked_shows_the_two_choices_and_the_letters(portal, accounts, pins):
    user = signed_in(accounts)
    pins.answers[MINE] = NOT_LINKED
    pins.answers[REQUESTS] = (200, {"requests": LETTERS})
    response = await portal.get("/mein-betrieb", headers=cookie("tok"))
    html = await response.text()
    assert response.status == 200
    assert_plain_page(html)
    assert "<h1>Mein Betrieb</h1>" in html
    assert (
        "Ihre Betriebsdaten sind zusätzlich durch eine PIN geschützt. Um alle Vorteile nutzen zu können, ist "
        "deshalb eine einmalige Freischaltung für den exklusiven Mitgliederbereich notwendig."
    ) in html
    assert 'href="/mein-betrieb/pin-anfordern">PIN anfordern</a>' in html
    assert 'href="/mein-betrieb/verknuepfen">Mit meinem Betrieb verknüpfen</a>' in html
    assert (
        "Wenn Sie bereits eine PIN erhalten haben, z. B. mit Ihrem Beitragsbescheid, dann können Sie "
        "„PIN anfordern“ überspringen."
    ) in html
    assert SIGNED_IN_HEADER in html and '<a href="/mein-betrieb">Mein Betrieb</a>' in html
    for call in pins.calls:
        assert verified(call).user == user.header()


async def test_letters_list_in_german(portal, accounts, pins):
    signed_in(accounts)
    pins.answers[MINE] = NOT_LINKED
    pins.answers[REQUESTS] = (200, {"requests": LETTERS})
    html = await (await portal.get("/mein-betrieb", headers=cookie("tok"))).text()
    rows = re.findall(r"<tr>\s*(.*?)\s*</tr>", html, re.S)[1:]
    cells = [re.findall(r"<td>(.*?)</td>", row, re.S) for row in rows]
    assert [c[1:] for c in cells] == [
        ["01.03.2025", "12.06.2025", "Angefordert"],
        ["01.02.2024", "30.04.2024", "Verwendet"],  # 23:30 UTC is the next day in Wiesbaden
        ["10.01.2023", "10.04.2023", "Abgelaufen"],
        ["10.02.2023", "10.05.2023", "An die Druckerei übergeben"],
        ["10.02.2023", "10.05.2023", "Zurückgestellt"],
    ]
    assert "Tischlerei Muster" in cells[0][0] and "1234567" in cells[0][0]


async def test_no_letters_no_table_and_a_failing_list_still_shows_the_choices(portal, accounts, pins):
    signed_in(accounts)
    pins.answers[MINE] = NOT_LINKED
    pins.answers[REQUESTS] = (200, {"requests": []})
    html = await (await portal.get("/mein-betrieb", headers=cookie("tok"))).text()
    assert "<table" not in html and "Ihre PIN-Briefe" not in html
    pins.answers[REQUESTS] = (500, {})
    response = await portal.get("/mein-betrieb", headers=cookie("tok"))
    html = await response.text()
    assert response.status == 200 and "PIN anfordern" in html
    assert "Ihre PIN-Briefe können gerade nicht angezeigt werden." in html


async def test_linked_member_sees_the_member_area(portal, accounts, pins):
    user = signed_in(accounts)
    pins.answers[MINE] = (200, {"businesses": [business(str(user.user_id))]})
    pins.answers[REQUESTS] = (200, {"requests": []})
    response = await portal.get("/mein-betrieb", headers=cookie("tok"))
    html = await response.text()
    assert response.status == 200
    assert_plain_page(html)
    assert "Der exklusive Mitgliederbereich" in html and "Tischlerei Muster" in html
    assert "Hauptstraße 1" in html and "65183 Wiesbaden" in html and "1234567" in html
    assert "<dt>Gewerk</dt>\n    <dd>Tischler</dd>" in html and "<dd>05.03.2025</dd>" in html
    assert "Zugang zu diesem Betrieb haben" in html
    assert "Anna Muster (Sie)" in html and "bernd@example.de" in html and "verknüpft seit 02.11.2024" in html
    assert "Bernd Muster (Sie)" not in html
    assert "mit dem Beitragsbescheid" in html and "im Kundenportal angefordert" in html
    assert "15.04.2025" in html and "Abgelaufen" in html and "Verwendet" in html
    assert 'href="/mein-betrieb/pin-anfordern">PIN anfordern</a>' in html
    assert 'href="/mein-betrieb/verknuepfen">Mit meinem Betrieb verknüpfen</a>' in html
    assert "einmalige Freischaltung für den exklusiven Mitgliederbereich notwendig" not in html


async def test_member_area_when_pins_is_down_or_the_session_ended(portal, accounts, pins, start_gateway):
    signed_in(accounts)
    pins.answers[MINE] = (503, {})
    response = await portal.get("/mein-betrieb", headers=cookie("tok"))
    assert response.status == 503 and "Der Dienst ist gerade nicht erreichbar." in await response.text()
    pins.answers[MINE] = (401, {"error": {"code": "unauthenticated", "message": "x", "fields": {}}})
    response = await portal.get("/mein-betrieb", headers=cookie("tok"), allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login"


async def test_request_form(portal, accounts):
    signed_in(accounts)
    response = await portal.get("/mein-betrieb/pin-anfordern", headers=cookie("tok"))
    html = await response.text()
    assert response.status == 200
    assert_plain_page(html)
    assert "<h1>PIN anfordern</h1>" in html and '<label for="betriebsnummer">Betriebsnummer</label>' in html
    assert "Ihre Betriebsnummer finden Sie auf Ihrem Beitragsbescheid, der Ihnen jährlich zugestellt wird." in html
    assert 'inputmode="numeric"' in html
    assert (
        "Den PIN-Code für die Verknüpfung von Nutzer-Account und Betrieb erhalten Sie per Post an Ihre Betriebsadresse."
    ) in html
    assert '<button class="button button-primary" type="submit">PIN anfordern</button>' in html
    assert "Entwicklungsmodus" not in html


async def test_request_success_redirects_with_a_notice(portal, accounts, pins):
    user = signed_in(accounts)
    pins.answers[REQUEST] = (202, {"status": "accepted", "message": "Ihr PIN-Brief ist unterwegs.", "request": {}})
    response = await post(portal, "/mein-betrieb/pin-anfordern", {"betriebsnummer": " 1234567 "})
    assert response.status == 303 and response.headers["Location"] == "/mein-betrieb?hinweis=pin-angefordert"
    (call,) = pins.calls_to(*REQUEST)
    assert call.json() == {"betriebsnummer": "1234567"}
    assert verified(call).user == user.header()

    pins.answers[MINE] = NOT_LINKED
    pins.answers[REQUESTS] = (200, {"requests": LETTERS[:1]})
    html = await (await portal.get(response.headers["Location"], headers=cookie("tok"))).text()
    assert 'role="status"><p>Ihr PIN-Brief ist angefordert.' in html


async def test_request_field_error_and_limit(portal, accounts, pins):
    signed_in(accounts)
    unknown = "Diese Betriebsnummer ist uns nicht bekannt. Sie finden sie auf Ihrem Beitragsbescheid."
    pins.answers[REQUEST] = (
        422,
        {
            "error": {
                "code": "invalid_input",
                "message": "Bitte prüfen Sie Ihre Eingaben.",
                "fields": {"betriebsnummer": unknown},
            }
        },
    )
    response = await post(portal, "/mein-betrieb/pin-anfordern", {"betriebsnummer": "999"})
    html = await response.text()
    assert response.status == 422
    assert f'<p class="field-error" id="betriebsnummer-fehler">{unknown}</p>' in html
    assert 'value="999"' in html and 'aria-invalid="true"' in html

    limit = "Für diesen Betrieb ist bereits ein PIN-Brief unterwegs."
    pins.answers[REQUEST] = (429, {"error": {"code": "throttled", "message": limit, "fields": {}}})
    response = await post(portal, "/mein-betrieb/pin-anfordern", {"betriebsnummer": "1234567"})
    assert response.status == 429 and limit in await response.text()


async def test_request_when_pins_is_down(accounts, start_gateway):
    gateway = await start_gateway(accounts_url=accounts.url)
    signed_in(accounts)
    response = await post(gateway, "/mein-betrieb/pin-anfordern", {"betriebsnummer": "1234567"})
    assert response.status == 503 and "Der Dienst ist gerade nicht erreichbar." in await response.text()


async def test_link_form(portal, accounts):
    signed_in(accounts)
    html = await (await portal.get("/mein-betrieb/verknuepfen", headers=cookie("tok"))).text()
    assert_plain_page(html)
    assert "<h1>Mit meinem Betrieb verknüpfen</h1>" in html
    pin = re.search(r'<input id="pin"[^>]*>', html)[0]
    assert 'autocomplete="off"' in pin and 'autocapitalize="characters"' in pin and 'spellcheck="false"' in pin
    assert (
        "Die PIN finden Sie in Ihrem PIN-Brief. Groß- und Kleinschreibung, Leerzeichen und Bindestrich "
        "spielen keine Rolle."
    ) in html
    assert "<h2>Wichtig</h2>" in html
    assert (
        "Nach erfolgreicher Freischaltung werden Sie aus Sicherheitsgründen automatisch abgemeldet. Nach "
        "erneuter Anmeldung haben Sie Zugang zum exklusiven Mitgliederbereich."
    ) in html
    assert '<button class="button button-primary" type="submit">Freischalten und abmelden</button>' in html


@pytest.mark.parametrize("accounts_clears", [True, False])
async def test_link_success_ends_the_session_with_the_answer(accounts, pins, start_gateway, accounts_clears):
    cache = new_cache(Clock())
    gateway = await start_gateway(accounts_url=accounts.url, pins_url=pins.url, cache=cache)
    user = signed_in(accounts)
    pins.answers[LINK] = (200, LINKED)
    if accounts_clears:
        accounts.answers[LOGOUT] = (204, None)
        accounts.set_cookies[LOGOUT] = [GONE_COOKIE]
    else:
        accounts.answers[LOGOUT] = (503, {})
    response = await post(gateway, "/mein-betrieb/verknuepfen", {"betriebsnummer": " 1234567 ", "pin": "abcd-efgh"})
    html = await response.text()
    assert response.status == 200
    assert "<h1>Geschafft!</h1>" in html and LINKED["message"] in html
    assert '<a class="button button-primary" href="/login">Login</a>' in html
    assert LOGIN_HEADER in html and SIGNED_IN_HEADER not in html and ">Abmelden</button>" not in html
    assert_plain_page(html)

    (link,) = pins.calls_to(*LINK)
    assert link.json() == {"betriebsnummer": "1234567", "pin": "abcd-efgh"}
    (ended,) = accounts.calls_to(*LOGOUT)
    assert verified(ended).user == user.header()
    assert cache.get(cache_key("tok")) is None
    (cleared,) = response.headers.getall("Set-Cookie")
    if accounts_clears:
        assert cleared == GONE_COOKIE
    else:
        assert re.match(r"__Host-kp_session=; Max-Age=0;.*Secure", cleared)


async def test_link_failure_keeps_the_session(accounts, pins, start_gateway):
    cache = new_cache(Clock())
    gateway = await start_gateway(accounts_url=accounts.url, pins_url=pins.url, cache=cache)
    signed_in(accounts)
    wrong = "Die PIN passt nicht zu dieser Betriebsnummer."
    pins.answers[LINK] = (
        422,
        {"error": {"code": "invalid_input", "message": "Bitte prüfen Sie Ihre Eingaben.", "fields": {"pin": wrong}}},
    )
    response = await post(gateway, "/mein-betrieb/verknuepfen", {"betriebsnummer": "1234567", "pin": "ABCD-EFGH"})
    html = await response.text()
    assert response.status == 422
    assert f'<p class="field-error" id="pin-fehler">{wrong}</p>' in html
    assert 'value="1234567"' in html and "ABCD-EFGH" not in html
    assert SIGNED_IN_HEADER in html
    assert "Set-Cookie" not in response.headers
    assert accounts.calls_to(*LOGOUT) == []
    assert cache.get(cache_key("tok")) is not None

    pins.answers[LINK] = (
        422,
        {
            "error": {
                "code": "invalid_input",
                "message": "Bitte prüfen Sie Ihre Eingaben.",
                "fields": {"betriebsnummer": "Unbekannt."},
            }
        },
    )
    html = await (await post(gateway, "/mein-betrieb/verknuepfen", {"betriebsnummer": "1", "pin": "ABCD-EFGH"})).text()
    assert 'id="betriebsnummer-fehler">Unbekannt.' in html and 'value="ABCD-EFGH"' in html

    pins.answers[LINK] = THROTTLED
    response = await post(gateway, "/mein-betrieb/verknuepfen", {"betriebsnummer": "1234567", "pin": "x"})
    assert response.status == 429 and "Zu viele Versuche. Bitte warten Sie." in await response.text()
    assert accounts.calls_to(*LOGOUT) == [] and "Set-Cookie" not in response.headers


async def test_link_through_the_api_ends_the_session(accounts, pins, start_gateway):
    cache = new_cache(Clock())
    gateway = await start_gateway(accounts_url=accounts.url, pins_url=pins.url, cache=cache)
    user = signed_in(accounts)
    pins.answers[LINK] = (200, LINKED)
    pins.headers[LINK] = {SESSION_HEADER: SESSION_END}
    accounts.answers[LOGOUT] = (204, None)
    accounts.set_cookies[LOGOUT] = [GONE_COOKIE]
    response = await gateway.post(
        "/api/v1/pins/links",
        json={"betriebsnummer": "1234567", "pin": "ABCDEFGH"},
        headers={**SAME_ORIGIN, **cookie("tok")},
    )
    assert response.status == 200 and await response.json() == LINKED
    assert response.headers.getall("Set-Cookie") == [GONE_COOKIE]
    assert SESSION_HEADER not in response.headers  # between the services and the gateway only
    (ended,) = accounts.calls_to(*LOGOUT)
    assert verified(ended).user == user.header()
    assert cache.get(cache_key("tok")) is None

    # The next page is anonymous: the header shows Login.
    accounts.answers[("POST", "/internal/v1/sessions/resolve")] = (404, {})
    html = await (await gateway.get("/", headers=cookie("tok"))).text()
    assert LOGIN_HEADER in html


async def test_failed_link_through_the_api_keeps_the_session(accounts, pins, start_gateway):
    cache = new_cache(Clock())
    gateway = await start_gateway(accounts_url=accounts.url, pins_url=pins.url, cache=cache)
    signed_in(accounts)
    pins.answers[LINK] = THROTTLED
    response = await gateway.post(
        "/api/v1/pins/links", json={"betriebsnummer": "1234567", "pin": "x"}, headers={**SAME_ORIGIN, **cookie("tok")}
    )
    assert response.status == 429 and (await response.json())["error"]["code"] == "throttled"
    assert "Set-Cookie" not in response.headers
    assert accounts.calls_to(*LOGOUT) == [] and cache.get(cache_key("tok")) is not None


async def test_other_api_calls_do_not_end_the_session(accounts, pins, start_gateway):
    cache = new_cache(Clock())
    gateway = await start_gateway(accounts_url=accounts.url, pins_url=pins.url, cache=cache)
    signed_in(accounts)
    pins.answers[REQUEST] = (202, {"status": "accepted", "message": "x", "request": {}})
    response = await gateway.post(
        "/api/v1/pins/requests", json={"betriebsnummer": "1234567"}, headers={**SAME_ORIGIN, **cookie("tok")}
    )
    assert response.status == 202 and "Set-Cookie" not in response.headers
    assert accounts.calls_to(*LOGOUT) == [] and cache.get(cache_key("tok")) is not None


async def test_letters_link_only_in_dev_mode(accounts, pins, start_gateway):
    letters = "http://127.0.0.1:8090/briefe"
    signed_in(accounts)
    plain = await start_gateway(accounts_url=accounts.url, pins_url=pins.url, letters_url=letters)
    for path in ("/", "/mein-betrieb/pin-anfordern"):
        html = await (await plain.get(path, headers=cookie("tok"))).text()
        assert "Briefe der Druckerei" not in html and letters not in html
    dev = await start_gateway(accounts_url=accounts.url, pins_url=pins.url, letters_url=letters, dev_mode=True)
    for path in ("/", "/mein-betrieb/pin-anfordern"):
        html = await (await dev.get(path, headers=cookie("tok"))).text()
        assert f'<a href="{letters}">Briefe der Druckerei</a>' in html
        assert "E-Mail-Postfach öffnen" not in html
    dev_without = await start_gateway(accounts_url=accounts.url, pins_url=pins.url, dev_mode=True)
    assert "Briefe der Druckerei" not in await (await dev_without.get("/")).text()


async def test_konto_leads_prominently_to_mein_betrieb(portal, accounts):
    signed_in(accounts)
    accounts.answers[("GET", "/api/v1/accounts/me")] = (
        200,
        {
            "user_id": "u",
            "email": "anna@example.de",
            "first_name": "Anna",
            "last_name": "Muster",
            "must_change_password": False,
            "businesses": [],
        },
    )
    html = await (await portal.get("/konto", headers=cookie("tok"))).text()
    assert '<a class="button button-primary" href="/mein-betrieb">Mein Betrieb</a>' in html
    assert "Noch nicht mit einem Betrieb verknüpft." in html


async def test_a_session_older_than_a_link_is_ended_when_pins_says_so(accounts, pins, start_gateway):
    """Linked in another tab: pins refuses this older session and says `end`; the page ends it at
    accounts and in the browser, and sends the member to log in again."""
    cache = new_cache(Clock())
    gateway = await start_gateway(accounts_url=accounts.url, pins_url=pins.url, cache=cache)
    user = signed_in(accounts)
    ended = {"error": {"code": "session_ended", "message": "abgemeldet", "fields": {}}}
    pins.answers[MINE] = (401, ended)
    pins.headers[MINE] = {SESSION_HEADER: SESSION_END}
    accounts.answers[LOGOUT] = (204, None)
    accounts.set_cookies[LOGOUT] = [GONE_COOKIE]
    response = await gateway.get("/mein-betrieb", headers=cookie("tok"), allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login"
    assert GONE_COOKIE in response.headers.getall("Set-Cookie")
    (logout,) = accounts.calls_to(*LOGOUT)
    assert verified(logout).user == user.header()
    assert cache.get(cache_key("tok")) is None


async def test_a_plain_401_from_pins_only_forgets_the_cached_session(accounts, pins, start_gateway):
    gateway = await start_gateway(accounts_url=accounts.url, pins_url=pins.url, cache=new_cache(Clock()))
    signed_in(accounts)
    pins.answers[MINE] = (401, {"error": {"code": "unauthenticated", "message": "x", "fields": {}}})
    response = await gateway.get("/mein-betrieb", headers=cookie("tok"), allow_redirects=False)
    assert response.status == 303 and accounts.calls_to(*LOGOUT) == []
