"""The staff area's member and business pages (/intern) on real servers, through the gateway: a
staff member made with `create-staff`, past the second factor, finds a member and acts on the
account, finds a business, sends it a new PIN letter and ends a link. Each action's effect is
checked where it shows (a mail, a login, the print shop's durable, the member's access) and each
leaves its line in the audit log."""

import os
import re
from uuid import uuid4

import pytest
from yarl import URL

from tests.support.client import Client, new_email
from tests.support.mail import extract_password
from tests.support.members import PERSON, confirmed_member, logged_in, member_with_own_password
from tests.support.staff_portal import PrintShop, run_command, sign_in_staff
from tests.support.wait import until

pytestmark = pytest.mark.integration

MEMBER_PASSWORD_WRONG = "Das ist nicht mein Passwort"
HEADER = "Betriebsnummer;Name;Straße;PLZ;Ort;E-Mail;Gewerk"


@pytest.fixture(scope="module")
async def staff(portal):
    async with Client(portal.gateway_url) as client:
        await sign_in_staff(portal, client)
        status, html, _ = await client.page("GET", "/intern")
        assert status == 200 and "Mitglied suchen" in html
        yield client


async def audit_actions(staff: Client, service: str) -> list[tuple[str, str | None, str | None]]:
    status, body = await staff.api("GET", f"/api/v1/{service}/staff/audit?limit=100")
    assert status == 200, body
    return [(e["action"], e["user_id"], e["betriebsnummer"]) for e in body["entries"]]


async def audited(staff: Client, service: str, action: str, *, user_id=None, number=None) -> None:
    """The action's line in the audit log; written in the action's own transaction, so at once."""
    lines = await audit_actions(staff, service)
    assert (action, user_id, number) in lines, lines


async def action(staff: Client, email: str, user_id: str, name: str) -> str:
    """Posts an action's form; returns the member page it redirects to (with its result)."""
    status, html, headers = await staff.page("POST", f"/intern/mitglieder/{user_id}/{name}")
    assert status == 303, html
    location = headers["Location"]
    assert URL(location).path == f"/intern/mitglieder/{user_id}" and URL(location).query["ergebnis"] == name
    assert email not in location  # the member's page is at their id: no address in a URL
    status, html, _ = await staff.page("GET", location)
    assert status == 200 and 'role="status"' in html
    return html


async def member_page(staff: Client, email: str) -> tuple[str, str]:
    status, html, _ = await staff.page("POST", "/intern/mitglieder", {"email": email})
    assert status == 200, html
    user_id = re.search(r'action="/intern/mitglieder/([0-9a-f-]{36})/', html)
    assert user_id, html
    return html, user_id.group(1)


async def test_a_pending_member_gets_a_new_confirmation_mail(portal, staff):
    email = new_email("pending")
    async with Client(portal.gateway_url) as visitor:
        status, _ = await visitor.api("POST", "/api/v1/accounts/registrations", {**PERSON, "email": email})
        assert status == 202
    await portal.mail.wait_for(lambda m: m.to == email and "token=" in m.text, timeout=30)

    html, user_id = await member_page(staff, email)
    assert "Nein, noch nicht bestätigt" in html and "Erika Mustermann" in html
    assert re.findall(rf'action="/intern/mitglieder/{user_id}/([^"]+)"', html) == ["bestaetigung", "deaktivieren"]

    await action(staff, email, user_id, "bestaetigung")
    await until(lambda: portal.mail.count(lambda m: m.to == email and "token=" in m.text) == 2, "a second mail")
    await audited(staff, "accounts", "confirmation_resent", user_id=user_id)
    await audited(staff, "accounts", "member_viewed", user_id=user_id)

    async def listed() -> bool:  # the mail log on the member page shows both mails
        html, _ = await member_page(staff, email)
        return html.count("<td>Versandt") >= 2

    await until(listed, "both confirmation mails listed as sent")


async def test_an_active_member_new_password_throttle_deactivation_and_erasure(portal, staff):
    async with Client(portal.gateway_url) as member:
        email, _initial = await confirmed_member(portal, member, "staffed")
    html, user_id = await member_page(staff, email)
    assert "<dt>Anmeldesperre</dt>\n    <dd>Nein</dd>" in html

    # A new initial password: the mail brings one that works, the old one no longer does.
    before = portal.mail.mark()
    await action(staff, email, user_id, "erstpasswort")
    mail = await portal.mail.wait_for(lambda m: m.to == email and "Passwort: " in m.text, timeout=30, since=before)
    password = extract_password(mail.text)
    await audited(staff, "accounts", "initial_password_sent", user_id=user_id)

    # Throttled by wrong passwords from a stranger's browser; lifted by staff, the member is in.
    async with Client(portal.gateway_url) as stranger:
        for _ in range(6):
            status, _ = await stranger.api(
                "POST", "/api/v1/accounts/sessions", {"email": email, "password": MEMBER_PASSWORD_WRONG}
            )
        assert status == 429
    html, _ = await member_page(staff, email)
    assert "(zu viele falsche Passwörter)" in html and f"{user_id}/anmeldesperre" in html
    html = await action(staff, email, user_id, "anmeldesperre")
    assert "<dt>Anmeldesperre</dt>\n    <dd>Nein</dd>" in html
    await audited(staff, "accounts", "throttle_lifted", user_id=user_id)
    async with Client(portal.gateway_url) as member:
        await logged_in(member, email, password)

        # Deactivated: the member's session ends and the login is refused; reactivated: it works.
        await action(staff, email, user_id, "deaktivieren")
        assert (await member.api("GET", "/api/v1/accounts/me"))[0] == 401
        status, _ = await member.api("POST", "/api/v1/accounts/sessions", {"email": email, "password": password})
        assert status in (401, 403)
        await audited(staff, "accounts", "deactivated", user_id=user_id)
        html = await action(staff, email, user_id, "reaktivieren")
        assert "<dt>Konto deaktiviert</dt>\n    <dd>Nein</dd>" in html
        await audited(staff, "accounts", "reactivated", user_id=user_id)
        await logged_in(member, email, password)

        # Erased after the confirmation step: the session ends, the login answers as for a stranger.
        status, html, _ = await staff.page("GET", f"/intern/mitglieder/{user_id}/konto-loeschen")
        assert status == 200 and "kann nicht rückgängig gemacht werden" in html
        status, html, headers = await staff.page("POST", f"/intern/mitglieder/{user_id}/konto-loeschen")
        assert status == 303 and headers["Location"] == "/intern?ergebnis=konto-geloescht", html
        assert (await member.api("GET", "/api/v1/accounts/me"))[0] == 401
        status, body = await member.api("POST", "/api/v1/accounts/sessions", {"email": email, "password": password})
        assert status == 401, body
    await audited(staff, "accounts", "erased", user_id=user_id)
    status, html, _ = await staff.page("POST", "/intern/mitglieder", {"email": email})
    assert status == 404 and 'role="alert"' in html


async def test_a_business_a_new_letter_and_an_ended_link(portal, staff, tmp_path):
    number = str(int.from_bytes(os.urandom(4)) % 10**9 + 10**9)
    register = tmp_path / "register.csv"
    row = f"{number};Schreinerei Stab;Taunusstraße 3;65183;Wiesbaden;info@stab.example;Schreiner"
    register.write_text(f"{HEADER}\n{row}\n", encoding="utf-8")
    done = run_command(portal, "pins", "import-businesses", str(register))
    assert done.returncode == 0, done.stdout + done.stderr

    status, html, _ = await staff.page("GET", f"/intern/betriebe?betriebsnummer={number}")
    assert status == 200 and "<h1>Betrieb: Schreinerei Stab</h1>" in html, html
    assert "Kein Konto ist mit diesem Betrieb verknüpft." in html
    await audited(staff, "pins", "business_viewed", number=number)

    # A new PIN letter, after the step that names the address: the print shop's durable has it.
    async with PrintShop(portal) as printshop:
        status, html, _ = await staff.page("GET", f"/intern/betriebe/{number}/pin-brief")
        assert status == 200 and "Taunusstraße 3" in html and "65183 Wiesbaden" in html
        status, html, headers = await staff.page("POST", f"/intern/betriebe/{number}/pin-brief")
        assert status == 303 and headers["Location"].endswith("ergebnis=pin-brief"), html
        letter, pin = await printshop.letter_for(number)
    assert letter.reason == "staff_request" and letter.address.street == "Taunusstraße 3"
    await audited(staff, "pins", "letter_requested", number=number)

    # A member links with that PIN; staff see the account and end the link: access ends at once.
    async with Client(portal.gateway_url) as member:
        email, password = await member_with_own_password(portal, member, "linked")
        status, body = await member.api("POST", "/api/v1/pins/links", {"betriebsnummer": number, "pin": pin})
        assert status == 200, body
        await logged_in(member, email, password)  # linking ended the session
        assert (await member.api("GET", "/api/v1/pins/businesses/mine"))[0] == 200

        status, html, _ = await staff.page("GET", f"/intern/betriebe?betriebsnummer={number}")
        assert email in html and "Verwendet" in html
        _, user_id = await member_page(staff, email)
        assert f"/intern/betriebe/{number}/verknuepfungen/{user_id}" in html
        status, html, _ = await staff.page("GET", f"/intern/betriebe/{number}/verknuepfungen/{user_id}")
        assert status == 200 and "<h1>Verknüpfung beenden</h1>" in html and email in html
        status, html, headers = await staff.page("POST", f"/intern/betriebe/{number}/verknuepfungen/{user_id}")
        assert status == 303 and headers["Location"].endswith("ergebnis=verknuepfung-beendet"), html
        status, body = await member.api("GET", "/api/v1/pins/businesses/mine")
        assert status == 403, body
    await audited(staff, "pins", "link_ended", user_id=user_id, number=number)
    status, html, _ = await staff.page("GET", f"/intern/betriebe?betriebsnummer={number}")
    assert "Kein Konto ist mit diesem Betrieb verknüpft." in html


async def test_a_member_reaches_no_staff_page(portal):
    async with Client(portal.gateway_url) as member:
        email, _ = await member_with_own_password(portal, member, "nosy")
        for path in ("/intern", f"/intern/mitglieder/{uuid4()}", "/intern/betriebe?betriebsnummer=1"):
            status, html, _ = await member.page("GET", path)
            assert status == 403 and "Mitglied suchen" not in html, (path, status)
        status, html, _ = await member.page("POST", f"/intern/betriebe/1/verknuepfungen/{uuid4()}")
        assert status == 403 and "Verknüpfung ist beendet" not in html
