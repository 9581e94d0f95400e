"""The staff gate, the staff sign-in's second factor, the audit page and "Verknüpfung lösen",
against fake accounts and pins."""

import re
from uuid import uuid4

import pyotp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from runtime.sessions import SESSION_HEADER, SESSION_REFRESH, SessionUser
from runtime.staff import SECOND_FACTOR_REQUIRED, STAFF_ONLY
from services.gateway.audit_pages import merge
from services.gateway.session_cache import SESSION, Resolved
from services.gateway.staff_access import staff_required
from tests.support.staff_routes import STAFF_API as ALL_STAFF_ROUTES
from tests.unit.gateway.html_checks import assert_no_inline_script_or_style
from tests.unit.gateway.sessions_helpers import RESOLVE, SAME_ORIGIN, Clock, cookie, new_cache

STAFF_API = [
    *ALL_STAFF_ROUTES,
    # other spellings the services' routers might take: the gate must know them too
    ("GET", "/api/v1//accounts//staff/members?email=a%40example.de"),
    ("GET", "/api/v1/accounts/Staff/members?email=a%40example.de"),
]
SECOND_FACTOR = "/api/v1/accounts/staff/second-factor"
STAFF_PAGES = ["/intern", "/intern/protokoll", f"/intern/mitglieder/{uuid4()}"]
AUDIT = {"accounts": ("GET", "/api/v1/accounts/staff/audit"), "pins": ("GET", "/api/v1/pins/staff/audit")}


def as_role(accounts, role: str, *, must_change: bool = False) -> SessionUser:
    user = SessionUser(uuid4(), uuid4(), 1_700_000_000_000, role)
    accounts.answers[RESOLVE] = (
        200,
        {
            "user_id": str(user.user_id),
            "session_id": str(user.session_id),
            "started_at_ms": user.started_at_ms,
            "must_change_password": must_change,
            "expires_at": "2030-01-01T00:00:00+00:00",
            "role": role,
        },
    )
    return user


async def call(client, method: str, path: str, **kwargs):
    return await client.request(method, path, headers=cookie("t") | SAME_ORIGIN, allow_redirects=False, **kwargs)


def forwarded(fake, path: str) -> bool:
    return any(c.path_qs == path or c.path_qs.startswith(path + "?") for c in fake.calls)


@pytest.fixture
async def staff_portal(accounts, pins, notifications, start_gateway):
    """No session cache: each test changes the role accounts resolves the cookie to."""
    return await start_gateway(
        accounts_url=accounts.url, pins_url=pins.url, notifications_url=notifications.url, session_cache_seconds=0
    )


async def test_the_staff_api_refuses_everyone_but_staff_past_the_second_factor(
    staff_portal, accounts, pins, notifications
):
    for method, path in STAFF_API:
        anonymous = await staff_portal.request(method, path, headers=SAME_ORIGIN, allow_redirects=False)
        assert anonymous.status == 401, (method, path)
    as_role(accounts, "member")
    for method, path in STAFF_API:
        answer = await call(staff_portal, method, path)
        assert answer.status == 403, (method, path)
        assert (await answer.json())["error"] == {"code": "staff_only", "message": STAFF_ONLY, "fields": {}}
    as_role(accounts, "staff_pending")
    for method, path in STAFF_API:
        answer = await call(staff_portal, method, path)
        assert answer.status == 403, (method, path)
        assert (await answer.json())["error"]["message"] == SECOND_FACTOR_REQUIRED
    services = (accounts, pins, notifications)
    assert not [c.path_qs for fake in services for c in fake.calls if "/staff" in c.path_qs.lower()]

    as_role(accounts, "staff")
    for method, path in STAFF_API[:13]:
        assert (await call(staff_portal, method, path)).status == 200, (method, path)
        assert any(forwarded(fake, path.partition("?")[0]) for fake in services), path


async def test_a_pending_staff_session_may_reach_only_its_second_factor(staff_portal, accounts):
    as_role(accounts, "staff_pending")
    for method, path in [("GET", SECOND_FACTOR), ("POST", SECOND_FACTOR), ("POST", SECOND_FACTOR + "/setup")]:
        assert (await call(staff_portal, method, path)).status == 200, path
        assert accounts.calls_to(method, path)
    assert (await call(staff_portal, "GET", SECOND_FACTOR + "-x")).status == 403
    as_role(accounts, "member")
    assert (await call(staff_portal, "GET", SECOND_FACTOR)).status == 403


async def test_staff_pages_send_each_session_where_it_belongs(staff_portal, accounts):
    for path in STAFF_PAGES:
        anonymous = await staff_portal.get(path, allow_redirects=False)
        assert (anonymous.status, anonymous.headers["Location"]) == (303, "/login"), path
    as_role(accounts, "member")
    for path in STAFF_PAGES + ["/intern/anmeldung"]:
        answer = await call(staff_portal, "GET", path)
        html = await answer.text()
        assert answer.status == 403, path
        assert STAFF_ONLY in html and '<a href="/konto">Mein Konto</a>' in html
    as_role(accounts, "staff_pending")
    for path in STAFF_PAGES:
        answer = await call(staff_portal, "GET", path)
        assert (answer.status, answer.headers["Location"]) == (303, "/intern/anmeldung"), path
    as_role(accounts, "staff_pending", must_change=True)
    answer = await call(staff_portal, "GET", "/intern/protokoll")
    assert answer.headers["Location"] == "/passwort-aendern"


async def test_staff_are_sent_from_the_members_pages_to_their_area(staff_portal, accounts, pins):
    as_role(accounts, "staff")
    for path in ["/", "/konto", "/mein-betrieb", "/mein-betrieb/verknuepfen"]:
        answer = await call(staff_portal, "GET", path)
        assert (answer.status, answer.headers["Location"]) == (303, "/intern"), path
    assert not pins.calls
    help_page = await (await call(staff_portal, "GET", "/hilfe")).text()
    assert '<a class="login" href="/intern">Mitarbeiterbereich</a>' in help_page
    assert 'href="/mein-betrieb"' not in help_page
    as_role(accounts, "member")
    member_page = await (await call(staff_portal, "GET", "/hilfe")).text()
    assert "Mitarbeiterbereich" not in member_page and 'href="/mein-betrieb"' in member_page


@pytest.mark.parametrize(
    ("role", "location"), [("staff_pending", "/intern/anmeldung"), ("staff", "/intern/anmeldung"), ("member", "/konto")]
)
async def test_the_login_sends_staff_to_the_second_factor(staff_portal, accounts, role, location):
    accounts.answers[("POST", "/api/v1/accounts/sessions")] = (201, {"must_change_password": False, "role": role})
    answer = await staff_portal.post(
        "/login", data={"email": "a@example.de", "password": "x"}, headers=SAME_ORIGIN, allow_redirects=False
    )
    assert (answer.status, answer.headers["Location"]) == (303, location)


async def test_setting_up_the_second_factor_shows_the_qr_code_then_the_recovery_codes_once(accounts, start_gateway):
    cache = new_cache(Clock())
    gateway = await start_gateway(accounts_url=accounts.url, cache=cache)
    as_role(accounts, "staff_pending")
    secret = pyotp.random_base32()
    uri = pyotp.TOTP(secret).provisioning_uri(name="anna@hwk.example", issuer_name="Kundenportal")
    accounts.answers[("GET", SECOND_FACTOR)] = (200, {"enrolled": False})
    accounts.answers[("POST", SECOND_FACTOR + "/setup")] = (200, {"secret": secret, "otpauth_uri": uri})
    page = await call(gateway, "GET", "/intern/anmeldung")
    html = await page.text()
    assert page.status == 200
    assert_no_inline_script_or_style(html)
    assert '<svg role="img" aria-label="QR-Code für Ihre Authenticator-App"' in html
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in html
    assert '<label for="code">Code aus der App</label>' in html

    wrong = {"error": {"code": "invalid", "message": "Bitte prüfen Sie Ihre Eingaben.", "fields": {"code": "Falsch."}}}
    accounts.answers[("POST", SECOND_FACTOR + "/setup/confirm")] = (422, wrong)
    form = {"code": "123 456"}
    refused = await call(gateway, "POST", "/intern/anmeldung/einrichten", data=form)
    html = await refused.text()
    assert refused.status == 422
    assert re.search(r'<p class="field-error" id="code-fehler">Falsch.</p>', html)
    assert secret[:4] in html and "<svg" in html
    assert accounts.calls_to("POST", SECOND_FACTOR + "/setup/confirm")[-1].json() == {"code": "123456"}
    # the same secret again (accounts keeps the pending one): the app that scanned it still fits
    assert len(accounts.calls_to("POST", SECOND_FACTOR + "/setup")) == 2

    codes = [f"code-{n:02d}" for n in range(10)]
    accounts.answers[("POST", SECOND_FACTOR + "/setup/confirm")] = (200, {"recovery_codes": codes})
    accounts.headers[("POST", SECOND_FACTOR + "/setup/confirm")] = {SESSION_HEADER: SESSION_REFRESH}
    assert len(cache) == 1
    done = await call(gateway, "POST", "/intern/anmeldung/einrichten", data=form)
    html = await done.text()
    assert done.status == 200
    assert all(f"<code>{code}</code>" in html for code in codes)
    assert "nur dieses eine Mal" in html
    assert len(cache) == 0  # the session is resolved afresh: its role is staff now


async def test_an_enrolled_staff_member_enters_a_code(accounts, start_gateway):
    gateway = await start_gateway(accounts_url=accounts.url, session_cache_seconds=0)
    as_role(accounts, "staff_pending")
    accounts.answers[("GET", SECOND_FACTOR)] = (200, {"enrolled": True})
    page = await call(gateway, "GET", "/intern/anmeldung")
    assert page.status == 200 and "Wiederherstellungscodes" in await page.text()
    assert not accounts.calls_to("POST", SECOND_FACTOR + "/setup")

    too_many = {"error": {"code": "throttled", "message": "Zu viele Versuche.", "fields": {}}}
    accounts.answers[("POST", SECOND_FACTOR)] = (429, too_many)
    refused = await call(gateway, "POST", "/intern/anmeldung", data={"code": "000000"})
    assert refused.status == 429 and 'id="code-fehler">Zu viele Versuche.' in await refused.text()

    accounts.answers[("POST", SECOND_FACTOR)] = (204, None)
    done = await call(gateway, "POST", "/intern/anmeldung", data={"code": "654321"})
    assert (done.status, done.headers["Location"]) == (303, "/intern")
    as_role(accounts, "staff")
    again = await call(gateway, "GET", "/intern/anmeldung")
    assert (again.status, again.headers["Location"]) == (303, "/intern")


def entry(id: int, at: str, **more) -> dict:
    return {"id": id, "at": at, "staff_user_id": "s", "action": "x", "action_label": "X"} | more


def test_the_audit_merges_both_services_newest_first_with_one_cursor_each():
    accounts = [entry(9, "2025-03-01T12:00:00+00:00"), entry(8, "2025-03-01T10:00:00+00:00")]
    pins = [entry(40, "2025-03-01T11:00:00+00:00"), entry(39, "2025-02-01T11:00:00+00:00")]
    page = merge({"accounts": accounts, "pins": pins}, {"accounts": None, "pins": None}, 3)
    assert [(e["service"], e["id"]) for e in page.entries] == [("accounts", 9), ("pins", 40), ("accounts", 8)]
    assert page.older == {"accounts": 8, "pins": 40}
    # Nothing shown from pins: its cursor stays where it was.
    page = merge({"accounts": accounts, "pins": pins[1:]}, {"accounts": None, "pins": 40}, 2)
    assert page.older == {"accounts": 8, "pins": 40}
    assert merge({"accounts": accounts, "pins": []}, {"accounts": None, "pins": None}, 3).older is None


async def test_the_audit_page_names_staff_and_links_businesses(staff_portal, accounts, pins):
    staff = str(uuid4())
    member = str(uuid4())
    as_role(accounts, "staff")
    accounts.answers[AUDIT["accounts"]] = (
        200,
        {
            "entries": [
                entry(
                    5,
                    "2025-07-01T08:30:00+00:00",
                    staff_user_id=staff,
                    action_label="Mitglied angesehen",
                    user_id=member,
                )
            ],
            "staff": {staff: "Anna Amt"},
        },
    )
    pins.answers[AUDIT["pins"]] = (
        200,
        {
            "entries": [
                entry(
                    7,
                    "2025-07-01T09:00:00+00:00",
                    staff_user_id=staff,
                    action_label="PIN-Brief angefordert",
                    betriebsnummer="1234567",
                )
            ]
        },
    )
    page = await call(staff_portal, "GET", "/intern/protokoll")
    html = await page.text()
    assert page.status == 200
    assert html.index("PIN-Brief angefordert") < html.index("Mitglied angesehen")
    assert "01.07.2025, 11:00 Uhr" in html and "01.07.2025, 10:30 Uhr" in html  # Berlin, summer time
    assert html.count("Anna Amt") == 2 and member in html
    assert '<a href="/intern/betriebe?betriebsnummer=1234567">1234567</a>' in html
    assert "kann nur gelesen werden" in html and "Ältere Einträge" not in html
    assert accounts.calls_to(*AUDIT["accounts"])[0].path_qs == "/api/v1/accounts/staff/audit?limit=50"

    pins.answers[AUDIT["pins"]] = (503, {})
    page = await call(staff_portal, "GET", "/intern/protokoll?accounts=6&pins=x")
    html = await page.text()
    assert page.status == 200 and "Einträge aus Betriebe können gerade nicht angezeigt werden" in html
    assert accounts.calls_to(*AUDIT["accounts"])[-1].path_qs == "/api/v1/accounts/staff/audit?limit=50&before=6"


MINE = ("GET", "/api/v1/pins/businesses/mine")


async def test_a_member_unlinks_a_business_after_confirming(portal, accounts, pins):
    as_role(accounts, "member")
    pins.answers[MINE] = (200, {"businesses": [{"betriebsnummer": "1234567", "name": "Tischlerei Muster"}]})
    area = await (await call(portal, "GET", "/mein-betrieb")).text()
    assert 'href="/mein-betrieb/verknuepfung-loesen?betriebsnummer=1234567"' in area
    confirm = await call(portal, "GET", "/mein-betrieb/verknuepfung-loesen?betriebsnummer=1234567")
    html = await confirm.text()
    assert confirm.status == 200
    assert (
        "Möchten Sie die Verknüpfung Ihres Kontos mit Tischlerei Muster (Betriebsnummer 1234567) wirklich lösen?"
        in html
    )
    assert not pins.calls_to("DELETE", "/api/v1/pins/links/1234567")  # looking changes nothing

    pins.answers[("DELETE", "/api/v1/pins/links/1234567")] = (204, None)
    done = await call(portal, "POST", "/mein-betrieb/verknuepfung-loesen", data={"betriebsnummer": "1234567"})
    assert (done.status, done.headers["Location"]) == (303, "/mein-betrieb?hinweis=verknuepfung-geloest")
    assert len(pins.calls_to("DELETE", "/api/v1/pins/links/1234567")) == 1
    pins.answers[MINE] = (403, {"error": {"code": "not_linked", "message": "Nicht verknüpft.", "fields": {}}})
    after = await (await call(portal, "GET", done.headers["Location"])).text()
    assert "Die Verknüpfung Ihres Kontos mit dem Betrieb wurde gelöst." in after
    assert "PIN anfordern" in after  # the not-linked view


async def test_unlinking_what_is_not_linked_explains_it(portal, accounts, pins):
    as_role(accounts, "member")
    pins.answers[MINE] = (200, {"businesses": [{"betriebsnummer": "1234567", "name": "Tischlerei Muster"}]})
    assert (await call(portal, "GET", "/mein-betrieb/verknuepfung-loesen?betriebsnummer=999")).status == 404
    not_linked = {"error": {"code": "not_linked", "message": "Diese Verknüpfung besteht nicht.", "fields": {}}}
    pins.answers[("DELETE", "/api/v1/pins/links/999")] = (404, not_linked)
    answer = await call(portal, "POST", "/mein-betrieb/verknuepfung-loesen", data={"betriebsnummer": "999"})
    assert answer.status == 404 and "Diese Verknüpfung besteht nicht." in await answer.text()
    odd = await call(portal, "POST", "/mein-betrieb/verknuepfung-loesen", data={"betriebsnummer": "../requests"})
    assert odd.status == 404
    assert [c.path_qs for c in pins.calls if c.method == "DELETE"] == ["/api/v1/pins/links/999"]


async def test_staff_required_guards_a_view_by_itself(accounts, start_gateway):
    """Gateway B's views rely on the decorator, not only on the /intern prefix of the middleware."""

    @staff_required
    async def view(_):
        return "shown"

    gateway = await start_gateway(accounts_url=accounts.url)
    for role, expected in [("staff", "shown"), ("staff_pending", 303), ("member", 403), (None, 303)]:
        request = make_mocked_request("GET", "/anderswo", app=gateway.app)
        if role is not None:
            request[SESSION] = Resolved(SessionUser(uuid4(), uuid4(), 0, role), False)
        try:
            answer = await view(request)
        except web.HTTPSeeOther as redirect:
            answer = redirect
        assert (answer if answer == "shown" else answer.status) == expected, role
