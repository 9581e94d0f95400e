"""The staff area's member and business pages (/intern) in front of fake accounts, pins and
notifications: what they call, what they show in German, and where each action leads."""

import re
from uuid import uuid4

import pytest
from yarl import URL

from runtime.sessions import RESOLVE_PATH, SessionUser
from services.gateway.staff_business_pages import RESULTS as BUSINESS_RESULTS
from services.gateway.staff_member_pages import RESULTS
from tests.support.identity import verified
from tests.unit.gateway.html_checks import assert_no_inline_script_or_style
from tests.unit.gateway.sessions_helpers import SAME_ORIGIN, cookie

USER = str(uuid4())
EMAIL = "erika+test@example.de"
MEMBERS = "/api/v1/accounts/staff/members"
BY_ID = ("GET", f"{MEMBERS}/{USER}")
MAILS = "/api/v1/notifications/staff/mails"
NUMBER = "1234567"
BUSINESS = f"/api/v1/pins/staff/businesses/{NUMBER}"
NOT_FOUND = (
    404,
    {"error": {"code": "member_not_found", "message": "Zu dieser E-Mail-Adresse gibt es kein Konto.", "fields": {}}},
)
CONFLICT = (
    409,
    {"error": {"code": "not_pending", "message": "Das Konto ist bereits bestätigt.", "fields": {}}},
)


def as_role(accounts, role: str) -> SessionUser:
    user = SessionUser(uuid4(), uuid4(), 1_700_000_000_000, role)
    accounts.answers[("POST", RESOLVE_PATH)] = (
        200,
        {
            "user_id": str(user.user_id),
            "session_id": str(user.session_id),
            "started_at_ms": user.started_at_ms,
            "must_change_password": False,
            "expires_at": "2030-01-01T00:00:00+00:00",
            "role": role,
        },
    )
    return user


def member(**changes) -> dict:
    return {
        "user_id": USER,
        "email": EMAIL,
        "first_name": "Erika",
        "last_name": "Mustermann",
        "role": "member",
        "state": "active",
        "created_at": "2025-03-01T08:00:00+00:00",
        "confirmed_at": "2025-03-01T08:10:00+00:00",
        "last_login_at": "2025-03-04T22:30:00+00:00",
        "deactivated_at": None,
        "login_throttled": False,
        "throttled_until": None,
        "must_change_password": False,
        "memberships": [{"betriebsnummer": NUMBER, "name": "Tischlerei Muster", "linked_at": "2025-03-05T10:00:00Z"}],
    } | changes


MAIL_LOG = [
    {
        "id": 2,
        "kind": "initial_password",
        "kind_label": "Erstpasswort",
        "state": "retrying",
        "state_label": "Wird erneut versucht",
        "attempts": 3,
        "last_error": "Empfänger-Server antwortet nicht",
        "created_at": "2025-03-01T08:10:00+00:00",
        "sent_at": None,
        "next_attempt_at": "2025-03-01T09:00:00+00:00",
    },
    {
        "id": 1,
        "kind": "confirmation",
        "kind_label": "Bestätigung der E-Mail-Adresse",
        "state": "sent",
        "state_label": "Versandt",
        "attempts": 1,
        "last_error": None,
        "created_at": "2025-03-01T08:00:00+00:00",
        "sent_at": "2025-03-01T08:00:05+00:00",
        "next_attempt_at": None,
    },
]


def business(**changes) -> dict:
    return {
        "betriebsnummer": NUMBER,
        "name": "Tischlerei Muster",
        "address": {"street": "Hauptstraße 1", "postal_code": "65183", "city": "Wiesbaden"},
        "email": "info@tischlerei-muster.de",
        "trade": "Tischler",
        "deleted_at": None,
        "imported_at": "2024-12-31T23:30:00+00:00",
        "updated_at": "2025-01-02T10:00:00+00:00",
        "linked_accounts": [
            {"user_id": USER, "email": EMAIL, "name": "Erika Mustermann", "linked_at": "2025-03-05T10:00:00Z"}
        ],
        "letters": [
            {
                "id": 7,
                "requested_at": "2025-03-01T08:00:00+00:00",
                "reason": "staff_request",
                "reason_label": "Von der Handwerkskammer veranlasst",
                "valid_until": "2025-05-31",
                "state": "used",
                "state_label": "Verwendet",
                "used_at": "2025-03-05T10:00:00+00:00",
            }
        ],
        "failed_attempts": [{"at": "2025-03-04T12:00:00+00:00", "user_id": str(uuid4()), "name": "Max Probe"}],
    } | changes


@pytest.fixture
async def notifications_fake(notifications):
    notifications.answers[("GET", MAILS)] = (200, {"mails": MAIL_LOG})
    return notifications


@pytest.fixture
async def staff_portal(accounts, pins, notifications_fake, start_gateway):
    """The gateway in front of fake accounts, pins and notifications; every cookie is staff."""
    as_role(accounts, "staff")
    return await start_gateway(accounts_url=accounts.url, pins_url=pins.url, notifications_url=notifications_fake.url)


def get(portal, path: str, token: str = "tok"):
    return portal.get(path, headers=cookie(token), allow_redirects=False)


def post(portal, path: str, data=None, token: str = "tok"):
    return portal.post(path, data=data or {}, headers={**SAME_ORIGIN, **cookie(token)}, allow_redirects=False)


def assert_page(html: str) -> None:
    assert '<html lang="de">' in html
    assert_no_inline_script_or_style(html)
    assert html.count("<h1>") == 1


ROUTES = [
    ("GET", "/intern"),
    ("POST", "/intern/mitglieder"),
    ("GET", f"/intern/mitglieder/{USER}"),
    ("GET", f"/intern/mitglieder/{USER}/konto-loeschen"),
    ("POST", f"/intern/mitglieder/{USER}/bestaetigung"),
    ("POST", f"/intern/mitglieder/{USER}/konto-loeschen"),
    ("GET", f"/intern/betriebe?betriebsnummer={NUMBER}"),
    ("GET", f"/intern/betriebe/{NUMBER}/pin-brief"),
    ("POST", f"/intern/betriebe/{NUMBER}/pin-brief"),
    ("GET", f"/intern/betriebe/{NUMBER}/verknuepfungen/{USER}"),
    ("POST", f"/intern/betriebe/{NUMBER}/verknuepfungen/{USER}"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_members_and_pending_staff_reach_nothing(staff_portal, accounts, pins, notifications_fake, method, path):
    for role, status in (("member", 403), ("staff_pending", 303)):
        as_role(accounts, role)
        # A cookie of its own: the gateway caches what a cookie resolved to.
        response = await (get(staff_portal, path, role) if method == "GET" else post(staff_portal, path, token=role))
        assert response.status == status, (role, await response.text())
        if role == "staff_pending":
            assert response.headers["Location"] == "/intern/anmeldung"
    anonymous = await staff_portal.request(method, path, headers=SAME_ORIGIN, allow_redirects=False)
    assert anonymous.status == 303 and anonymous.headers["Location"] == "/login"
    staff_calls = [c for c in accounts.calls + pins.calls + notifications_fake.calls if "/staff/" in c.path_qs]
    assert staff_calls == []


async def test_home_has_both_searches_and_the_log(staff_portal):
    response = await get(staff_portal, "/intern")
    html = await response.text()
    assert response.status == 200
    assert_page(html)
    assert "<h1>Interner Bereich</h1>" in html
    assert (
        '<h2 id="mitglied-suchen">Mitglied suchen</h2>' in html and '<label for="email">E-Mail-Adresse</label>' in html
    )
    assert '<h2 id="betrieb-suchen">Betrieb suchen</h2>' in html
    assert '<label for="betriebsnummer">Betriebsnummer</label>' in html
    assert 'action="/intern/mitglieder"' in html and 'action="/intern/betriebe"' in html
    assert '<a href="/passwort-aendern">Passwort ändern</a>' in html  # "Mein Konto" is the members'
    assert 'href="/intern/protokoll"' in html


async def test_member_page_shows_account_links_and_mails_in_german(staff_portal, accounts, notifications_fake):
    accounts.answers[("GET", MEMBERS)] = (200, member())
    response = await post(staff_portal, "/intern/mitglieder", {"email": f" {EMAIL} "})  # never in a URL
    html = await response.text()
    assert response.status == 200, html
    assert_page(html)
    [call] = accounts.calls_to("GET", MEMBERS)
    assert call.path_qs == MEMBERS + "?email=erika%2Btest%40example.de"
    assert verified(call).user.endswith(":staff")
    [mails] = notifications_fake.calls_to("GET", MAILS)
    assert mails.path_qs == MAILS + "?email=erika%2Btest%40example.de" and verified(mails) is not None
    assert "<h1>Mitglied: Erika Mustermann</h1>" in html and EMAIL in html
    assert "<dd>Ja, am 01.03.2025, 09:10 Uhr</dd>" in html
    assert "<dd>05.03.2025, 00:30 Uhr</dd>" not in html and "<dd>04.03.2025, 23:30 Uhr</dd>" in html  # Berlin
    assert "<dt>Anmeldesperre</dt>\n    <dd>Nein</dd>" in html
    assert 'href="/intern/betriebe?betriebsnummer=1234567">Tischlerei Muster</a>' in html
    rows = re.findall(r"<tr>\s*(.*?)\s*</tr>", html, re.S)
    cells = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows[1:]]
    assert cells == [
        "Erstpasswort Wird erneut versucht Grund: Empfänger-Server antwortet nicht 3 01.03.2025, 09:10 Uhr "
        "– 01.03.2025, 10:00 Uhr",
        "Bestätigung der E-Mail-Adresse Versandt 1 01.03.2025, 09:00 Uhr 01.03.2025, 09:00 Uhr –",
    ]
    actions = re.findall(r'action="/intern/mitglieder/([^"]+)"', html)
    assert actions == [f"{USER}/erstpasswort", f"{USER}/deaktivieren"]
    assert f'href="/intern/mitglieder/{USER}/konto-loeschen"' in html
    assert 'name="email"' not in html and "?email=" not in html
    # the member's own page is at their id, and shows the same
    accounts.answers[BY_ID] = (200, member())
    by_id = await get(staff_portal, f"/intern/mitglieder/{USER}")
    assert by_id.status == 200 and "<h1>Mitglied: Erika Mustermann</h1>" in await by_id.text()
    assert len(accounts.calls_to(*BY_ID)) == 1


async def test_the_old_search_address_reads_no_address(staff_portal, accounts):
    response = await get(staff_portal, f"/intern/mitglieder?email={EMAIL}")
    assert response.status == 303 and response.headers["Location"] == "/intern"
    assert [c for c in accounts.calls if "/staff/" in c.path_qs] == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"state": "pending", "confirmed_at": None, "last_login_at": None}, ["bestaetigung", "deaktivieren"]),
        (
            {"login_throttled": True, "throttled_until": "2025-03-04T12:00:00Z"},
            ["erstpasswort", "anmeldesperre", "deaktivieren"],
        ),
        ({"deactivated_at": "2025-03-04T12:00:00Z"}, ["reaktivieren"]),
        ({"role": "staff", "memberships": []}, []),  # staff accounts are ops' to change
    ],
)
async def test_member_actions_follow_the_state(staff_portal, accounts, changes, expected):
    accounts.answers[BY_ID] = (200, member(**changes))
    html = await (await get(staff_portal, f"/intern/mitglieder/{USER}")).text()
    assert re.findall(rf'action="/intern/mitglieder/{USER}/([^"]+)"', html) == expected
    if changes.get("state") == "pending":
        assert "Nein, noch nicht bestätigt" in html and "Noch nie angemeldet" in html
    if changes.get("login_throttled"):
        assert "Ja, bis 04.03.2025, 13:00 Uhr" in html
    if changes.get("deactivated_at"):
        assert "Ja, seit 04.03.2025, 13:00 Uhr" in html
    assert (f'href="/intern/mitglieder/{USER}/konto-loeschen"' in html) == bool(expected)
    assert ("Dies ist ein Mitarbeiterkonto." in html) == (not expected)


async def test_an_unknown_member_is_a_message_on_the_search_page(staff_portal, accounts):
    accounts.answers[("GET", MEMBERS)] = NOT_FOUND
    response = await post(staff_portal, "/intern/mitglieder", {"email": "niemand@example.de"})
    html = await response.text()
    assert response.status == 404
    assert "<h1>Interner Bereich</h1>" in html and 'role="alert"' in html
    assert "Zu dieser E-Mail-Adresse gibt es kein Konto." in html
    assert 'value="niemand@example.de"' in html and 'aria-invalid="true"' in html
    empty = await post(staff_portal, "/intern/mitglieder", {"email": " "})
    assert empty.status == 422 and "Bitte geben Sie die E-Mail-Adresse des Mitglieds ein." in await empty.text()
    # a member's page by id whose account went meanwhile: the search, saying so above the form
    accounts.answers[BY_ID] = NOT_FOUND
    for path in (f"/intern/mitglieder/{USER}", f"/intern/mitglieder/{USER}/konto-loeschen"):
        gone = await get(staff_portal, path)
        html = await gone.text()
        assert gone.status == 404 and "<h1>Interner Bereich</h1>" in html, path
        assert "Zu dieser E-Mail-Adresse gibt es kein Konto." in html and 'aria-invalid="true"' not in html


async def test_without_the_mail_log_the_member_still_shows(staff_portal, accounts, notifications_fake):
    accounts.answers[("GET", MEMBERS)] = (200, member())
    notifications_fake.answers[("GET", MAILS)] = (500, {})
    response = await post(staff_portal, "/intern/mitglieder", {"email": EMAIL})
    html = await response.text()
    assert response.status == 200 and "Erika Mustermann" in html
    assert "Die E-Mails können gerade nicht angezeigt werden." in html


@pytest.mark.parametrize(
    ("action", "method", "suffix"),
    [
        ("bestaetigung", "POST", "/confirmation"),
        ("erstpasswort", "POST", "/initial-password"),
        ("anmeldesperre", "DELETE", "/throttle"),
        ("deaktivieren", "POST", "/deactivation"),
        ("reaktivieren", "DELETE", "/deactivation"),
    ],
)
async def test_each_member_action_calls_accounts_and_comes_back(staff_portal, accounts, action, method, suffix):
    accounts.answers[(method, f"{MEMBERS}/{USER}{suffix}")] = (202 if method == "POST" else 204, {})
    response = await post(staff_portal, f"/intern/mitglieder/{USER}/{action}")
    assert response.status == 303, await response.text()
    location = response.headers["Location"]
    assert URL(location).path == f"/intern/mitglieder/{USER}"
    assert dict(URL(location).query) == {"ergebnis": action}
    [call] = accounts.calls_to(method, f"{MEMBERS}/{USER}{suffix}")
    assert verified(call).user.endswith(":staff")
    accounts.answers[BY_ID] = (200, member())
    html = await (await get(staff_portal, location)).text()
    assert f'<div class="alert alert-success" role="status"><p>{RESULTS[action]}</p></div>' in html


async def test_a_refused_action_shows_why_above_the_member(staff_portal, accounts):
    accounts.answers[("POST", f"{MEMBERS}/{USER}/confirmation")] = CONFLICT
    accounts.answers[BY_ID] = (200, member())
    response = await post(staff_portal, f"/intern/mitglieder/{USER}/bestaetigung")
    html = await response.text()
    assert response.status == 409
    assert re.search(r'role="alert"[^>]*>\s*<p>Das Konto ist bereits bestätigt.</p>', html)
    assert "<h1>Mitglied: Erika Mustermann</h1>" in html


async def test_unknown_actions_and_ids_are_not_found(staff_portal, accounts):
    assert (await post(staff_portal, f"/intern/mitglieder/{USER}/loeschen-alles")).status == 404
    assert (await post(staff_portal, "/intern/mitglieder/kein-uuid/bestaetigung")).status == 404
    assert (await get(staff_portal, "/intern/mitglieder/kein-uuid")).status == 404
    assert [c for c in accounts.calls if "/staff/" in c.path_qs] == []


async def test_erasing_asks_first_and_says_what_it_means(staff_portal, accounts):
    accounts.answers[BY_ID] = (200, member())
    response = await get(staff_portal, f"/intern/mitglieder/{USER}/konto-loeschen")
    html = await response.text()
    assert response.status == 200
    assert_page(html)
    assert "<h1>Konto löschen</h1>" in html and "Erika Mustermann" in html
    assert "kann nicht rückgängig gemacht werden" in html and "Alle Sitzungen enden sofort" in html
    assert f'action="/intern/mitglieder/{USER}/konto-loeschen"' in html
    assert f'href="/intern/mitglieder/{USER}">Abbrechen und zurück zum Mitglied</a>' in html
    assert accounts.calls_to("DELETE", f"{MEMBERS}/{USER}") == []
    accounts.answers[("DELETE", f"{MEMBERS}/{USER}")] = (204, {})
    response = await post(staff_portal, f"/intern/mitglieder/{USER}/konto-loeschen")
    assert response.status == 303 and response.headers["Location"] == "/intern?ergebnis=konto-geloescht"
    assert len(accounts.calls_to("DELETE", f"{MEMBERS}/{USER}")) == 1
    html = await (await get(staff_portal, response.headers["Location"])).text()
    assert "Das Konto und die Angaben zur Person wurden gelöscht." in html


async def test_business_page_shows_record_accounts_letters_and_attempts(staff_portal, pins):
    pins.answers[("GET", BUSINESS)] = (200, business())
    response = await get(staff_portal, f"/intern/betriebe?betriebsnummer={NUMBER}")
    html = await response.text()
    assert response.status == 200, html
    assert_page(html)
    [call] = pins.calls_to("GET", BUSINESS)
    assert verified(call).user.endswith(":staff")
    assert "<h1>Betrieb: Tischlerei Muster</h1>" in html
    assert "Hauptstraße 1<br>65183 Wiesbaden" in html and "info@tischlerei-muster.de" in html
    assert "<dd>01.01.2025, 00:30 Uhr</dd>" in html  # imported at New Year's in Wiesbaden
    assert "<dt>Im Register</dt>\n    <dd>Ja</dd>" in html
    assert f'href="/intern/mitglieder/{USER}">erika+test@example.de</a>' in html
    assert f'href="/intern/betriebe/{NUMBER}/verknuepfungen/{USER}" aria-describedby="konto-1"' in html
    assert "Von der Handwerkskammer veranlasst" in html and "31.05.2025" in html and "Verwendet" in html
    assert "Max Probe" in html and "04.03.2025, 13:00 Uhr" in html
    assert f'href="/intern/betriebe/{NUMBER}/pin-brief">Neuen PIN-Brief senden</a>' in html
    assert '<th scope="col">' in html and '<th scope="row"' in html


async def test_a_business_deleted_from_the_register_says_so(staff_portal, pins):
    pins.answers[("GET", BUSINESS)] = (200, business(deleted_at="2025-02-01T10:00:00Z", linked_accounts=[]))
    html = await (await get(staff_portal, f"/intern/betriebe?betriebsnummer={NUMBER}")).text()
    assert "aus dem Betriebsregister gelöscht" in html and "Gelöscht am 01.02.2025, 11:00 Uhr" in html
    assert "Neuen PIN-Brief senden" not in html and "Kein Konto ist mit diesem Betrieb verknüpft." in html


async def test_an_unknown_business_is_a_message_on_the_search_page(staff_portal, pins):
    message = "Zu dieser Betriebsnummer gibt es keinen Betrieb."
    pins.answers[("GET", "/api/v1/pins/staff/businesses/999")] = (
        404,
        {"error": {"code": "business_not_found", "message": message, "fields": {}}},
    )
    response = await get(staff_portal, "/intern/betriebe?betriebsnummer=999")
    html = await response.text()
    assert response.status == 404 and message in html and 'value="999"' in html and 'role="alert"' in html


async def test_a_new_letter_names_the_address_first(staff_portal, pins):
    pins.answers[("GET", BUSINESS)] = (200, business())
    response = await get(staff_portal, f"/intern/betriebe/{NUMBER}/pin-brief")
    html = await response.text()
    assert response.status == 200
    assert_page(html)
    assert re.search(r"Tischlerei Muster<br>\s*Hauptstraße 1<br>\s*65183 Wiesbaden", html)
    assert pins.calls_to("POST", BUSINESS + "/letters") == []
    pins.answers[("POST", BUSINESS + "/letters")] = (202, {"message": "ok", "request": {}})
    response = await post(staff_portal, f"/intern/betriebe/{NUMBER}/pin-brief")
    assert response.status == 303
    assert response.headers["Location"] == f"/intern/betriebe?betriebsnummer={NUMBER}&ergebnis=pin-brief"
    [call] = pins.calls_to("POST", BUSINESS + "/letters")
    assert verified(call).user.endswith(":staff")
    html = await (await get(staff_portal, response.headers["Location"])).text()
    assert BUSINESS_RESULTS["pin-brief"] in html and 'role="status"' in html


async def test_ending_a_link_names_the_account_first(staff_portal, pins):
    pins.answers[("GET", BUSINESS)] = (200, business())
    response = await get(staff_portal, f"/intern/betriebe/{NUMBER}/verknuepfungen/{USER}")
    html = await response.text()
    assert response.status == 200
    assert_page(html)
    assert "<h1>Verknüpfung beenden</h1>" in html and "Erika Mustermann" in html and "Tischlerei Muster" in html
    other = str(uuid4())
    response = await get(staff_portal, f"/intern/betriebe/{NUMBER}/verknuepfungen/{other}")
    assert response.status == 404 and "Dieses Konto ist nicht mit dem Betrieb verknüpft." in await response.text()
    pins.answers[("DELETE", f"{BUSINESS}/links/{USER}")] = (204, {})
    response = await post(staff_portal, f"/intern/betriebe/{NUMBER}/verknuepfungen/{USER}")
    assert response.status == 303
    assert response.headers["Location"] == f"/intern/betriebe?betriebsnummer={NUMBER}&ergebnis=verknuepfung-beendet"
    assert len(pins.calls_to("DELETE", f"{BUSINESS}/links/{USER}")) == 1


async def test_a_refused_business_action_shows_why(staff_portal, pins):
    message = "Dieses Konto ist nicht mit dem Betrieb verknüpft."
    pins.answers[("DELETE", f"{BUSINESS}/links/{USER}")] = (
        404,
        {"error": {"code": "not_linked", "message": message, "fields": {}}},
    )
    pins.answers[("GET", BUSINESS)] = (200, business())
    response = await post(staff_portal, f"/intern/betriebe/{NUMBER}/verknuepfungen/{USER}")
    html = await response.text()
    assert response.status == 404 and message in html and "<h1>Betrieb: Tischlerei Muster</h1>" in html


async def test_a_service_away_or_a_session_gone(staff_portal, accounts, pins):
    accounts.answers[BY_ID] = (503, {})
    response = await get(staff_portal, f"/intern/mitglieder/{USER}")
    assert response.status == 503 and "Dienst nicht erreichbar" in await response.text()
    pins.answers[("POST", BUSINESS + "/letters")] = (
        401,
        {"error": {"code": "unauthenticated", "message": "Bitte melden Sie sich an.", "fields": {}}},
    )
    response = await post(staff_portal, f"/intern/betriebe/{NUMBER}/pin-brief")
    assert response.status == 303 and response.headers["Location"] == "/login"
