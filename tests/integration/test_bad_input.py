"""Control characters in any field of any public form: a German 4xx, nothing stored, never a 5xx."""

import pytest

from tests.support.client import Client, new_email, query
from tests.support.members import PERSON, member_with_own_password

pytestmark = pytest.mark.integration

NUL, ESCAPE, NEXT_LINE = "\x00", "\x1b", "\x85"

ANONYMOUS = [
    ("/api/v1/accounts/registrations", {**PERSON, "email": "kp-nul@example.de"}),
    ("/api/v1/accounts/registrations/confirm", {"token": "t" * 43}),
    ("/api/v1/accounts/registrations/resend", {"email": "kp-nul@example.de"}),
    ("/api/v1/accounts/sessions", {"email": "kp-nul@example.de", "password": "ein langes Passwort"}),
    ("/api/v1/accounts/password/forgot", {"email": "kp-nul@example.de"}),
    ("/api/v1/accounts/password/reset", {"token": "t" * 43, "new_password": "ein langes Passwort"}),
    (
        "/api/v1/notifications/contact",
        {
            "name": "Erika Muster",
            "email": "kp-nul@example.de",
            "betriebsnummer": "1234567",
            "betriebsname": "Muster GmbH",
            "message": "Eine Frage zum Kundenportal.",
        },
    ),
]
SIGNED_IN = [
    ("/api/v1/accounts/password", {"current_password": "ein langes Passwort", "new_password": "ein anderes Passwort"}),
    ("/api/v1/pins/requests", {"betriebsnummer": "1234567"}),
    ("/api/v1/pins/links", {"betriebsnummer": "1234567", "pin": "ABCD-EFGH"}),
]


def poisoned(body: dict):
    for field, value in body.items():
        for bad in (NUL, ESCAPE, NEXT_LINE):
            yield field, {**body, field: value[:3] + bad + value[3:]}


async def assert_refused(client: Client, path: str, body: dict) -> None:
    for field, bad in poisoned(body):
        status, answer = await client.api("POST", path, bad)
        assert 400 <= status < 500 and status != 429, (path, field, status, answer)
        assert answer["error"]["message"] and field in answer["error"]["fields"], (path, field, answer)


async def test_control_characters_are_refused_everywhere(portal) -> None:
    async with Client(portal.gateway_url) as anonymous:
        for path, body in ANONYMOUS:
            await assert_refused(anonymous, path, body)
    async with Client(portal.gateway_url) as member:
        await member_with_own_password(portal, member, "steuerzeichen")
        for path, body in SIGNED_IN:
            await assert_refused(member, path, body)
    rows = await query(portal.database_url, "select 1 from accounts.users where email like 'kp-nul%'")
    assert rows == []
    rows = await query(
        portal.database_url, "select 1 from notifications.contact_requests where address_key like '%kp-nul%'"
    )
    assert rows == []


async def test_a_registration_form_with_a_nul_byte_is_answered_on_the_page(portal) -> None:
    email = new_email("nulform")
    async with Client(portal.gateway_url) as visitor:
        status, html, _ = await visitor.page(
            "POST",
            "/registrieren",
            {"first_name": "Er\x00ika", "last_name": "Muster", "email": email, "birth_date": "04.05.1979"},
        )
    assert status == 422 and "Steuerzeichen" in html
    assert await query(portal.database_url, "select 1 from accounts.users where email = $1", email) == []
