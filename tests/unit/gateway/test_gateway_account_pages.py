import re
from urllib.parse import parse_qs, urlsplit

import pytest

from services.gateway.session_cache import cache_key
from tests.support.identity import verified
from tests.unit.gateway.sessions_helpers import RESOLVE, SAME_ORIGIN, Clock, cookie, new_cache, signed_in

LOGIN = ("POST", "/api/v1/accounts/sessions")
LOGOUT = ("DELETE", "/api/v1/accounts/sessions/current")
ME = ("GET", "/api/v1/accounts/me")
PASSWORD = ("POST", "/api/v1/accounts/password")
NEW_COOKIE = "__Host-kp_session=neu; HttpOnly; Path=/; SameSite=Lax; Secure"
GONE_COOKIE = "__Host-kp_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax; Secure"
PROFILE = {
    "user_id": "u",
    "email": "anna@example.de",
    "first_name": "Anna",
    "last_name": "Muster",
    "must_change_password": False,
    "businesses": [{"betriebsnummer": "1234567", "name": "Tischlerei Muster", "linked_at": "x"}],
}
CHANGE_REQUIRED = {
    "error": {
        "code": "password_change_required",
        "message": "Bitte vergeben Sie zuerst ein eigenes Passwort.",
        "fields": {},
    }
}


def post(gateway, path, data, token=None):
    headers = {**SAME_ORIGIN, **(cookie(token) if token else {})}
    return gateway.post(path, data=data, headers=headers, allow_redirects=False)


async def test_login_page(gateway):
    html = await (await gateway.get("/login")).text()
    assert '<label for="email">E-Mail-Adresse</label>' in html and '<label for="password">Passwort</label>' in html
    assert 'autocomplete="current-password"' in html
    assert '<button class="button button-primary" type="submit">Login</button>' in html
    assert 'href="/passwort-vergessen">Passwort vergessen</a>' in html and ">neu registrieren</a>" in html
    assert "händisch" in html and "„l“ (kleines „L“)" in html


@pytest.mark.parametrize("forced,target", [(False, "/konto"), (True, "/passwort-aendern")])
async def test_login_copies_the_cookie_and_redirects(gateway, accounts, forced, target):
    accounts.answers[LOGIN] = (201, {"must_change_password": forced, "expires_at": "2030-01-01T00:00:00Z"})
    accounts.set_cookies[LOGIN] = [NEW_COOKIE]
    response = await post(gateway, "/login", {"email": " anna@example.de ", "password": " Geheim 1 "})
    assert response.status == 303 and response.headers["Location"] == target
    assert response.headers.getall("Set-Cookie") == [NEW_COOKIE]
    (call,) = accounts.calls
    assert call.json() == {"email": "anna@example.de", "password": " Geheim 1 "}
    assert verified(call).client == "127.0.0.1"


@pytest.mark.parametrize("status,code", [(401, "login_failed"), (429, "login_throttled"), (422, "invalid_input")])
async def test_login_failure_shows_accounts_message(gateway, accounts, status, code):
    accounts.answers[LOGIN] = (status, {"error": {"code": code, "message": f"Meldung {code}.", "fields": {}}})
    response = await post(gateway, "/login", {"email": "anna@example.de", "password": "streng-geheim"})
    html = await response.text()
    assert response.status == status
    assert f"Meldung {code}." in html and 'value="anna@example.de"' in html
    assert "streng-geheim" not in html
    assert "__Host-kp_session" not in response.headers.get("Set-Cookie", "")


async def test_login_when_accounts_is_down(start_gateway):
    gateway = await start_gateway()
    response = await post(gateway, "/login", {"email": "a@b.de", "password": "x"})
    assert response.status == 503 and "Der Dienst ist gerade nicht erreichbar." in await response.text()


async def test_konto_needs_login(gateway, accounts):
    response = await gateway.get("/konto", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login"
    assert accounts.calls == []


async def test_a_page_that_needs_login_is_where_the_login_leads_back_to(gateway, accounts):
    response = await gateway.get("/mein-betrieb/pin-anfordern?betriebsnummer=1234567", allow_redirects=False)
    assert response.status == 303
    login_page = urlsplit(response.headers["Location"])
    back = "/mein-betrieb/pin-anfordern?betriebsnummer=1234567"
    assert (login_page.path, parse_qs(login_page.query)) == ("/login", {"weiter": [back]})
    html = await (await gateway.get(response.headers["Location"])).text()
    assert '<input type="hidden" name="weiter" value="/mein-betrieb/pin-anfordern?betriebsnummer=1234567">' in html
    accounts.answers[LOGIN] = (201, {"must_change_password": False, "expires_at": "2030-01-01T00:00:00Z"})
    response = await post(gateway, "/login", {"email": "anna@example.de", "password": "Geheim 1", "weiter": back})
    assert response.status == 303 and response.headers["Location"] == back
    # a wrong password keeps the way back in the form shown again
    accounts.answers[LOGIN] = (401, {"error": {"code": "login_failed", "message": "Falsch.", "fields": {}}})
    response = await post(gateway, "/login", {"email": "anna@example.de", "password": "x", "weiter": back})
    assert 'name="weiter" value="/mein-betrieb/pin-anfordern?betriebsnummer=1234567"' in await response.text()


@pytest.mark.parametrize(
    "weiter",
    [
        "//evil.example/konto",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "mein-betrieb",
        "/api/v1/accounts/me",
        "/login",
        "/konto\r\nSet-Cookie: x=y",
        "/" + "a" * 600,
    ],
)
async def test_the_way_back_after_login_never_leaves_the_portals_pages(gateway, accounts, weiter):
    accounts.answers[LOGIN] = (201, {"must_change_password": False, "expires_at": "2030-01-01T00:00:00Z"})
    response = await post(gateway, "/login", {"email": "anna@example.de", "password": "Geheim 1", "weiter": weiter})
    assert response.status == 303 and response.headers["Location"] == "/konto"
    html = await (await gateway.get("/login", params={"weiter": weiter})).text()
    assert 'name="weiter"' not in html


async def test_the_initial_password_is_changed_first_whatever_the_way_back(gateway, accounts):
    accounts.answers[LOGIN] = (201, {"must_change_password": True, "expires_at": "2030-01-01T00:00:00Z"})
    response = await post(gateway, "/login", {"email": "a@b.de", "password": "Geheim 1", "weiter": "/mein-betrieb"})
    assert response.headers["Location"] == "/passwort-aendern"


async def test_a_signed_in_member_opening_the_login_goes_the_way_back(gateway, accounts):
    signed_in(accounts)
    response = await gateway.get("/login?weiter=%2Fmein-betrieb", headers=cookie("tok"), allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/mein-betrieb"


async def test_konto_shows_the_profile_and_the_signed_in_header(gateway, accounts):
    signed_in(accounts)
    accounts.answers[ME] = (200, PROFILE)
    response = await gateway.get("/konto", headers=cookie("tok"))
    html = await response.text()
    assert response.status == 200
    assert "Ihr persönliches Kundenkonto" in html and "Anna Muster" in html and "anna@example.de" in html
    assert "Tischlerei Muster" in html
    assert 'href="/passwort-aendern">Passwort ändern</a>' in html and 'href="/mein-betrieb">Mein Betrieb</a>' in html
    assert "Bitte denken Sie daran sich abzumelden, wenn Sie unsere Seite verlassen." in html
    assert '<a class="login" href="/konto">zum Kundenportal</a>' in html
    assert 'action="/abmelden"' in html and ">Abmelden</button>" in html
    assert 'href="/login">Login</a>' not in html
    assert html.count("<form") == html.count('<button class="button') == html.count('type="submit"')


async def test_forced_change_gates_pages_and_api(gateway, accounts):
    signed_in(accounts, must_change=True)
    for page in ("/konto", "/login"):
        response = await gateway.get(page, headers=cookie("tok"), allow_redirects=False)
        assert response.status == 303
    konto = await gateway.get("/konto", headers=cookie("tok"), allow_redirects=False)
    assert konto.headers["Location"] == "/passwort-aendern"
    for page in ("/", "/hilfe", "/registrieren", "/passwort-aendern"):
        assert (await gateway.get(page, headers=cookie("tok"))).status == 200
    html = await (await gateway.get("/passwort-aendern", headers=cookie("tok"))).text()
    assert "Das Passwort aus der E-Mail gilt nur für die erste Anmeldung." in html

    for method, path in [
        ("GET", "/api/v1/accounts/registrations"),
        ("POST", "/api/v1/pins/requests"),
        ("GET", "/api/v1/pins/businesses/mine"),
    ]:
        response = await gateway.request(method, path, headers={**cookie("tok"), **SAME_ORIGIN})
        assert response.status == 403 and await response.json() == CHANGE_REQUIRED
    for method, path in [ME, PASSWORD, LOGOUT]:
        response = await gateway.request(method, path, headers={**cookie("tok"), **SAME_ORIGIN})
        assert response.status == 200
    assert len([c for c in accounts.calls if c.path_qs.startswith("/api/")]) == 3


async def test_password_change_mismatch_never_calls_accounts(gateway, accounts):
    signed_in(accounts)
    response = await post(
        gateway,
        "/passwort-aendern",
        {"current_password": "alt", "new_password": "ein langer satz", "new_password_repeat": "ein anderer satz"},
        "tok",
    )
    html = await response.text()
    assert response.status == 422
    assert '<p class="field-error" id="new_password_repeat-fehler">Die Passwörter stimmen nicht überein.</p>' in html
    assert "Mindestens 12 Zeichen. Am besten ein Satz aus mehreren Wörtern." in html
    assert accounts.calls_to(*PASSWORD) == []


async def test_password_change_success_drops_the_cache_and_notices(accounts, start_gateway):
    cache = new_cache(Clock())
    gateway = await start_gateway(accounts_url=accounts.url, cache=cache)
    user = signed_in(accounts, must_change=True)
    accounts.answers[PASSWORD] = (204, None)
    response = await post(
        gateway,
        "/passwort-aendern",
        {"current_password": "alt", "new_password": "ein langer satz", "new_password_repeat": "ein langer satz"},
        "tok",
    )
    assert response.status == 303 and response.headers["Location"] == "/konto?hinweis=passwort-geaendert"
    (call,) = accounts.calls_to(*PASSWORD)
    assert call.json() == {"current_password": "alt", "new_password": "ein langer satz"}
    assert verified(call).user == user.header()
    assert cache.get(cache_key("tok")) is None

    signed_in(accounts)
    accounts.answers[ME] = (200, PROFILE)
    html = await (await gateway.get("/konto?hinweis=passwort-geaendert", headers=cookie("tok"))).text()
    assert "Ihr Passwort wurde geändert." in html


async def test_password_change_errors_next_to_fields(gateway, accounts):
    signed_in(accounts)
    accounts.answers[PASSWORD] = (
        422,
        {
            "error": {
                "code": "invalid_input",
                "message": "Bitte prüfen Sie Ihre Eingaben.",
                "fields": {"current_password": "Das aktuelle Passwort stimmt nicht."},
            }
        },
    )
    response = await post(
        gateway,
        "/passwort-aendern",
        {"current_password": "x", "new_password": "ein langer satz", "new_password_repeat": "ein langer satz"},
        "tok",
    )
    html = await response.text()
    assert response.status == 422 and 'id="current_password-fehler">Das aktuelle Passwort stimmt nicht.' in html


async def test_logout_copies_the_clearing_cookie(gateway, accounts):
    signed_in(accounts)
    accounts.answers[LOGOUT] = (204, None)
    accounts.set_cookies[LOGOUT] = [GONE_COOKIE]
    response = await post(gateway, "/abmelden", {}, "tok")
    assert response.status == 303 and response.headers["Location"] == "/?hinweis=abgemeldet"
    assert response.headers.getall("Set-Cookie") == [GONE_COOKIE]
    assert len(accounts.calls_to(*LOGOUT)) == 1
    html = await (await gateway.get("/?hinweis=abgemeldet")).text()
    assert "Sie wurden abgemeldet." in html


@pytest.mark.parametrize("resolve_status", [404, 200])
async def test_logout_of_a_session_already_gone_still_clears(gateway, accounts, resolve_status):
    signed_in(accounts)
    if resolve_status == 404:
        accounts.answers[RESOLVE] = (404, {})
    accounts.answers[LOGOUT] = (401, {"error": {"code": "unauthenticated", "message": "x", "fields": {}}})
    accounts.set_cookies[LOGOUT] = []
    response = await post(gateway, "/abmelden", {}, "gone")
    assert response.status == 303
    (cleared,) = response.headers.getall("Set-Cookie")
    assert re.match(r"__Host-kp_session=; Max-Age=0;.*Secure", cleared)


async def test_logout_without_cookie_and_get_is_not_allowed(gateway, accounts):
    response = await post(gateway, "/abmelden", {})
    assert response.status == 303 and accounts.calls == []
    assert (await gateway.get("/abmelden")).status == 405
