"""'Meine Daten herunterladen' and 'Konto löschen' in the gateway, in front of fake services."""

import json

import pytest

from runtime.sessions import SESSION_END, SESSION_HEADER
from tests.support.identity import verified
from tests.unit.gateway.sessions_helpers import SAME_ORIGIN, cookie, signed_in

DELETE = ("DELETE", "/api/v1/accounts/me")
PARTS = {
    "accounts": ("GET", "/api/v1/accounts/me/export"),
    "pins": ("GET", "/api/v1/pins/me/export"),
    "notifications": ("GET", "/api/v1/notifications/me/export"),
}


@pytest.fixture
async def data_portal(accounts, pins, notifications, start_gateway):
    return await start_gateway(accounts_url=accounts.url, pins_url=pins.url, notifications_url=notifications.url)


async def test_the_export_joins_each_services_part_as_one_file(data_portal, accounts, pins, notifications):
    user = signed_in(accounts)
    services = {"accounts": accounts, "pins": pins, "notifications": notifications}
    for name, route in PARTS.items():
        services[name].answers[route] = (200, {"part": name})
    response = await data_portal.get("/api/v1/export", headers=cookie("tok"))
    assert response.status == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="kundenportal-daten.json"'
    document = json.loads(await response.read())
    assert {name: document[name] for name in PARTS} == {name: {"part": name} for name in PARTS}
    assert "exported_at" in document
    for name, route in PARTS.items():
        (call,) = services[name].calls_to(*route)
        assert verified(call).user == user.header()


async def test_the_export_is_all_parts_or_none(data_portal, accounts, pins):
    signed_in(accounts)
    pins.answers[PARTS["pins"]] = (500, {"error": {"code": "boom", "message": "x", "fields": {}}})
    response = await data_portal.get("/api/v1/export", headers=cookie("tok"))
    body = await response.json()
    assert response.status == 503 and "accounts" not in body, body


async def test_konto_links_both(gateway, accounts):
    signed_in(accounts)
    accounts.answers[("GET", "/api/v1/accounts/me")] = (
        200,
        {
            "user_id": "u",
            "email": "a@b.de",
            "first_name": "A",
            "last_name": "B",
            "must_change_password": False,
            "businesses": [],
        },
    )
    html = await (await gateway.get("/konto", headers=cookie("tok"))).text()
    assert 'href="/api/v1/export" download="kundenportal-daten.json">Meine Daten herunterladen</a>' in html
    assert 'href="/konto-loeschen">Konto löschen</a>' in html


async def test_deleting_sends_the_password_and_ends_the_session(gateway, accounts):
    signed_in(accounts)
    accounts.answers[DELETE] = (204, None)
    accounts.headers[DELETE] = {SESSION_HEADER: SESSION_END}
    form = {"password": " Mein Passwort ", "confirm": "ja"}
    response = await gateway.post(
        "/konto-loeschen", data=form, headers={**SAME_ORIGIN, **cookie("tok")}, allow_redirects=False
    )
    assert response.status == 303 and response.headers["Location"] == "/?hinweis=konto-geloescht"
    (call,) = accounts.calls_to(*DELETE)
    assert call.json() == {"password": " Mein Passwort "}
    assert any(c.startswith("__Host-kp_session=;") or "Max-Age=0" in c for c in response.headers.getall("Set-Cookie"))


@pytest.mark.parametrize("form", [{"password": "x"}, {"password": "x", "confirm": "nein"}])
async def test_deleting_needs_the_confirmation(gateway, accounts, form):
    signed_in(accounts)
    response = await gateway.post("/konto-loeschen", data=form, headers={**SAME_ORIGIN, **cookie("tok")})
    assert response.status == 422 and "Bitte bestätigen Sie" in await response.text()
    assert accounts.calls_to(*DELETE) == []


async def test_a_wrong_password_shows_accounts_message(gateway, accounts):
    signed_in(accounts)
    error = {"code": "invalid_input", "message": "Bitte prüfen Sie Ihre Eingaben.", "fields": {"password": "Falsch."}}
    accounts.answers[DELETE] = (422, {"error": error})
    form = {"password": "x", "confirm": "ja"}
    response = await gateway.post("/konto-loeschen", data=form, headers={**SAME_ORIGIN, **cookie("tok")})
    html = await response.text()
    assert response.status == 422 and "Falsch." in html and 'aria-invalid="true"' in html
