"""Staff and members in Chromium: a staff account made with `create-staff` sets its password with the
mailed link, signs in, sets up its authenticator app from the QR code's secret (pyotp stands in
for the app), sees its recovery codes once and reaches /intern; the audit page lists its actions;
a later sign-in takes a recovery code. A member ends the link to a business in "Mein Betrieb".
axe-core (nothing "serious" or "critical") on every page of the way."""

import re

import pyotp
import pytest
from playwright.async_api import expect

from tests.support.browser import axe_source, describe, import_businesses, log_in, new_betriebsnummer, run_axe
from tests.support.client import Client, new_email
from tests.support.mail import extract_token_link
from tests.support.members import member_with_own_password
from tests.support.operator import run_command
from tests.support.pins import pin_from_outbox

pytestmark = pytest.mark.integration

BLOCKING = {"serious", "critical"}
STAFF_PASSWORD = "Kammerbote bringt die Post"
BUSINESS = "Zimmerei Balken"


@pytest.fixture(scope="module")
def axe() -> str:
    return axe_source()


async def accessible(page, axe: str, where: str) -> None:
    blocking = [v for v in await run_axe(page, axe) if v["impact"] in BLOCKING]
    assert not blocking, f"{where}:\n{describe(blocking)}"


async def test_staff_sign_in_with_a_second_factor_and_read_the_audit(portal, page, steps, axe, test_output) -> None:
    email = new_email("staff")
    heading = page.get_by_role("heading", level=1)
    menu = page.get_by_role("navigation", name="Hauptmenü")
    done = await run_command(
        "accounts", portal.env["accounts"], "create-staff", email, "--first-name", "Kira", "--last-name", "Kammer"
    )
    assert done.returncode == 0, done.output

    mail = await portal.mail.wait_for(lambda m: m.to == email and "token=" in m.text, timeout=30)
    await page.goto(extract_token_link(mail.text))
    await page.get_by_label("Neues Passwort", exact=True).fill(STAFF_PASSWORD)
    await page.get_by_label("Neues Passwort wiederholen", exact=True).fill(STAFF_PASSWORD)
    await page.get_by_role("button", name="Passwort speichern").click()
    await expect(page.get_by_role("status")).to_be_visible()
    await steps("passwort-vergeben")

    await page.goto(portal.gateway_url + "/login")
    await log_in(page, email, STAFF_PASSWORD)
    await expect(heading).to_have_text("Anmeldung absichern")
    await expect(page).to_have_url(re.compile(r"/intern/anmeldung$"))
    await expect(page.get_by_role("img", name="QR-Code für Ihre Authenticator-App")).to_be_visible()
    await steps("einrichten")
    await accessible(page, axe, "setup page")
    secret = "".join((await page.locator("#schluessel").inner_text()).split())

    wrong = f"{(int(pyotp.TOTP(secret).now()) + 500_000) % 1_000_000:06d}"
    await page.get_by_label("Code aus der App", exact=True).fill(wrong)
    await page.get_by_role("button", name="Einrichtung abschließen").click()
    await expect(page.locator("#code-fehler")).to_be_visible()
    await steps("falscher-code")
    await accessible(page, axe, "setup page with an error")

    await page.get_by_label("Code aus der App", exact=True).fill(pyotp.TOTP(secret).now())
    await page.get_by_role("button", name="Einrichtung abschließen").click()
    await expect(heading).to_have_text("Ihre Wiederherstellungscodes")
    codes = page.get_by_role("list", name="Wiederherstellungscodes").get_by_role("listitem")
    await expect(codes).to_have_count(10)
    recovery = (await codes.first.inner_text()).strip()
    await steps("wiederherstellungscodes")
    await accessible(page, axe, "recovery codes")

    await page.get_by_role("link", name="Weiter zum Mitarbeiterbereich").click()
    await expect(page).to_have_url(re.compile(r"/intern$"))
    await expect(menu.get_by_role("link", name="Mitarbeiterbereich", exact=True)).to_be_visible()
    await expect(menu.get_by_role("link", name="Mein Betrieb", exact=True)).to_have_count(0)
    await steps("mitarbeiterbereich")

    # Two staff actions that leave audit lines: looking up an account and a business.
    answer = await page.request.get(f"{portal.gateway_url}/api/v1/accounts/staff/members?email={email}")
    assert answer.status in (200, 404), await answer.text()  # a staff account is no member to look up
    number = new_betriebsnummer()
    import_businesses(portal, [f"{number};{BUSINESS};Ringstraße 9;65183;Wiesbaden;;Zimmerer"], test_output)
    answer = await page.request.get(f"{portal.gateway_url}/api/v1/pins/staff/businesses/{number}")
    assert answer.status == 200, await answer.text()

    await page.goto(portal.gateway_url + "/intern/protokoll")
    await expect(heading).to_have_text("Protokoll der Mitarbeiteraktionen")
    rows = page.get_by_role("row").filter(has_text="Kira Kammer")
    await expect(rows.first).to_be_visible()
    await expect(page.get_by_role("link", name=number, exact=True)).to_have_attribute(
        "href", f"/intern/betriebe?betriebsnummer={number}"
    )
    await expect(page.get_by_text("kann nur gelesen werden")).to_be_visible()
    await steps("protokoll")
    await accessible(page, axe, "audit page")

    # Signing in again asks for a code; a recovery code does instead of the app.
    await menu.get_by_role("button", name="Abmelden").click()
    await page.goto(portal.gateway_url + "/login")
    await log_in(page, email, STAFF_PASSWORD)
    await expect(heading).to_have_text("Anmeldung bestätigen")
    await steps("code-eingeben")
    await accessible(page, axe, "code page")
    await page.get_by_label("Code", exact=True).fill(recovery)
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page).to_have_url(re.compile(r"/intern$"))


async def linked_member(portal, folder) -> tuple[str, str, str]:
    """A member with their own password, linked to a new business with its letter's PIN."""
    number = new_betriebsnummer()
    import_businesses(portal, [f"{number};{BUSINESS};Ringstraße 9;65183;Wiesbaden;info@balken.de;Zimmerer"], folder)
    async with Client(portal.gateway_url) as client:
        email, password = await member_with_own_password(portal, client, "unlink")
        assert (await client.api("POST", "/api/v1/pins/requests", {"betriebsnummer": number}))[0] == 202

        pin = await pin_from_outbox(portal, number)
        status, body = await client.api("POST", "/api/v1/pins/links", {"betriebsnummer": number, "pin": pin})
        assert status == 200, body
    return email, password, number


async def test_a_member_ends_the_link_to_a_business(portal, page, steps, axe, test_output) -> None:
    email, password, number = await linked_member(portal, test_output)
    heading = page.get_by_role("heading", level=1)
    await page.goto(portal.gateway_url + "/login")
    await log_in(page, email, password)
    await page.get_by_role("navigation", name="Hauptmenü").get_by_role("link", name="Mein Betrieb").click()
    await expect(page.get_by_role("heading", name=BUSINESS, level=2)).to_be_visible()
    await page.get_by_role("link", name="Verknüpfung lösen").click()
    await expect(heading).to_have_text("Verknüpfung lösen")
    await expect(page.locator("main")).to_contain_text(
        f"Möchten Sie die Verknüpfung Ihres Kontos mit {BUSINESS} (Betriebsnummer {number}) wirklich lösen?"
    )
    await steps("verknuepfung-loesen")
    await accessible(page, axe, "unlink confirmation")
    await page.get_by_role("button", name="Verknüpfung lösen").click()
    await expect(page.get_by_role("status")).to_have_text("Die Verknüpfung Ihres Kontos mit dem Betrieb wurde gelöst.")
    await expect(heading).to_have_text("Mein Betrieb")
    await expect(page.get_by_role("link", name="PIN anfordern", exact=True)).to_be_visible()  # not linked any more
    await expect(page.get_by_role("heading", name=BUSINESS, level=2)).to_have_count(0)
    await steps("verknuepfung-geloest")
    await accessible(page, axe, "Mein Betrieb after unlinking")
