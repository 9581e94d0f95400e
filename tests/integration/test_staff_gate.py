"""The staff gate through a real portal: members and anonymous visitors reach nothing of the staff
area (API and pages), a staff account made with `create-staff` reaches only its second factor until
it has set one up, and everything after."""

import json

import pyotp
import pytest

from runtime.crypto import unseal
from runtime.staff import NOT_LOGGED_IN, SECOND_FACTOR_REQUIRED, STAFF_ONLY
from tests.support.client import Client, new_email, query
from tests.support.members import NEW_PASSWORD, PERSON, logged_in
from tests.support.operator import run_command
from tests.support.staff_routes import STAFF_API
from tests.support.wait import until

pytestmark = pytest.mark.integration

STAFF_PASSWORD = "Kammerbote bringt die Post"
SECOND_FACTOR = "/api/v1/accounts/staff/second-factor"
STAFF_PAGES = [
    "/intern",
    "/intern/protokoll",
    "/intern/mitglieder/6f1c2b5e-8d4a-4c3e-9b7a-2e5d1f0a3c48",
    "/intern/betriebe?betriebsnummer=1234567",
    "/intern/anmeldung",
]


async def assert_refused(client: Client, status: int, code: str, message: str) -> None:
    for method, path in STAFF_API:
        got, body = await client.api(method, path)
        assert got == status, (method, path, body)
        assert body["error"]["code"] == code and body["error"]["message"] == message, (method, path, body)


async def sealed(portal, subject: str, email: str, field: str) -> str:
    """A secret accounts sent notifications for this address, read from accounts' outbox: the gate
    is under test here, not the mail (the browser test reads the mails)."""

    async def rows():
        return await query(
            portal.database_url,
            "select payload from accounts.outbox where subject = $1 and payload->>'email' = $2 order by id desc",
            subject,
            email,
        )

    payload = (await until(rows, f"{subject} for {email}"))[0]["payload"]
    payload = json.loads(payload) if isinstance(payload, str) else payload
    return unseal(portal.notifications_private_key, payload[field])


async def member(portal, client: Client) -> None:
    """Registered, confirmed, logged in with a password of their own."""
    email = new_email("gate")
    assert (await client.api("POST", "/api/v1/accounts/registrations", {**PERSON, "email": email}))[0] == 202
    link = await sealed(portal, "user.registered.v1", email, "confirmation_link")
    confirm = {"token": link.split("token=", 1)[1]}
    assert (await client.api("POST", "/api/v1/accounts/registrations/confirm", confirm))[0] == 200
    initial = await sealed(portal, "user.confirmed.v1", email, "initial_password")
    await logged_in(client, email, initial)
    change = {"current_password": initial, "new_password": NEW_PASSWORD}
    assert (await client.api("POST", "/api/v1/accounts/password", change))[0] == 204


async def staff_account(portal, client: Client) -> str:
    """`create-staff` as ops run it, the password set with the setup link, logged in (pending)."""
    email = new_email("staff")
    done = await run_command(
        "accounts", portal.env["accounts"], "create-staff", email, "--first-name", "Kira", "--last-name", "Kammer"
    )
    assert done.returncode == 0, done.output
    link = await sealed(portal, "user.password_reset_requested.v1", email, "reset_link")
    reset = {"token": link.split("token=", 1)[1], "new_password": STAFF_PASSWORD}
    assert (await client.api("POST", "/api/v1/accounts/password/reset", reset))[0] == 204
    assert (await logged_in(client, email, STAFF_PASSWORD)).get("role") == "staff_pending"
    return email


async def test_members_and_visitors_reach_nothing_of_the_staff_area(portal):
    async with Client(portal.gateway_url) as client:
        await assert_refused(client, 401, "unauthenticated", NOT_LOGGED_IN)
        for path in STAFF_PAGES:
            status, _, headers = await client.page("GET", path)
            assert (status, headers.get("Location")) == (303, "/login"), path

        await member(portal, client)
        await assert_refused(client, 403, "staff_only", STAFF_ONLY)
        for path in STAFF_PAGES:
            status, html, _ = await client.page("GET", path)
            assert status == 403, path
            assert STAFF_ONLY in html and '<a href="/konto">Mein Konto</a>' in html, path
            assert 'href="/intern"' not in html  # no menu entry for members


async def test_staff_reach_only_the_second_factor_until_it_is_set_up(portal):
    async with Client(portal.gateway_url) as client:
        email = await staff_account(portal, client)
        await assert_refused(client, 403, "second_factor_required", SECOND_FACTOR_REQUIRED)
        for path in STAFF_PAGES[:4]:
            status, _, headers = await client.page("GET", path)
            assert (status, headers.get("Location")) == (303, "/intern/anmeldung"), path
        status, _, headers = await client.page("GET", "/mein-betrieb")
        assert (status, headers.get("Location")) == (303, "/intern")

        # The login page sends staff on to the second factor.
        form = {"email": email, "password": STAFF_PASSWORD}
        status, _, headers = await client.page("POST", "/login", form)
        assert (status, headers.get("Location")) == (303, "/intern/anmeldung")
        status, html, _ = await client.page("GET", "/intern/anmeldung")
        assert status == 200 and '<svg role="img" aria-label="QR-Code' in html, html
        secret = "".join(html.split('id="schluessel">', 1)[1].split("<", 1)[0].split())

        wrong = f"{(int(pyotp.TOTP(secret).now()) + 500_000) % 1_000_000:06d}"
        status, html, _ = await client.page("POST", "/intern/anmeldung/einrichten", {"code": wrong})
        assert status == 422 and 'id="code-fehler"' in html
        assert secret == "".join(html.split('id="schluessel">', 1)[1].split("<", 1)[0].split())  # the same one
        status, html, _ = await client.page("POST", "/intern/anmeldung/einrichten", {"code": pyotp.TOTP(secret).now()})
        assert status == 200, html
        assert html.count("<li><code>") == 10 and "nur dieses eine Mal" in html

        status, body = await client.api("GET", "/api/v1/accounts/staff/audit?limit=5")
        assert status == 200, body
        status, html, _ = await client.page("GET", "/intern/protokoll")
        assert status == 200 and "Protokoll der Mitarbeiteraktionen" in html
        status, html, _ = await client.page("GET", "/passwort-aendern")  # linked from /intern
        assert status == 200 and "Passwort ändern" in html
        status, _, headers = await client.page("GET", "/intern/anmeldung")
        assert (status, headers.get("Location")) == (303, "/intern")
        # Staff act for the chamber, never for a business.
        status, body = await client.api("POST", "/api/v1/pins/requests", {"betriebsnummer": "1234567"})
        assert status == 403 and body["error"]["code"] == "members_only", body
