"""The staff area in Chromium: a staff member past the second factor finds a member and resends the
confirmation mail, finds a business, sends it a new PIN letter and ends a member's link to it —
clicking the pages' own labels; axe-core finds nothing serious or critical on any page on the way.
Screenshots: test-output/browser.test_staff_pages.<test>/."""

from urllib.parse import unquote

import pytest
from playwright.async_api import expect

from tests.support.browser import (
    DESKTOP,
    MOBILE,
    axe_source,
    describe,
    import_businesses,
    new_betriebsnummer,
    run_axe,
    scroll_width,
)
from tests.support.client import Client, new_email
from tests.support.members import PERSON, logged_in, member_with_own_password
from tests.support.staff_portal import PrintShop, sign_in_staff
from tests.support.wait import until

pytestmark = pytest.mark.integration

BLOCKING = {"serious", "critical"}


@pytest.fixture(scope="module")
async def staff_cookies(portal):
    """The cookies of a staff session past its second factor, for a browser context."""
    async with Client(portal.gateway_url) as client:
        await sign_in_staff(portal, client)
        return [
            {"name": cookie.key, "value": cookie.value, "url": portal.gateway_url}
            for cookie in client.session.cookie_jar
        ]


async def assert_accessible(page, axe: str, where: str, *, narrow: bool = False) -> None:
    """axe-core finds nothing serious or critical; `narrow`: nor does the page scroll sideways at
    360 px (the wide tables scroll within their frame)."""
    violations = await run_axe(page, axe)
    if violations:
        print(f"axe-core on {where}:\n{describe(violations)}")
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"{where}:\n{describe(blocking)}"
    if narrow:
        await page.set_viewport_size(MOBILE)
        try:
            wide = await page.evaluate(
                """(limit) => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > limit + 1).slice(0, 5)
                .map(e => e.tagName.toLowerCase() + (e.className ? '.' + String(e.className) : ''))""",
                MOBILE["width"],
            )
            assert await scroll_width(page) <= MOBILE["width"], f"{where} scrolls sideways at 360 px: {wide}"
        finally:
            await page.set_viewport_size(DESKTOP)


async def test_staff_find_a_member_and_a_business_and_act(portal, context, page, steps, staff_cookies, test_output):
    axe = axe_source()
    await context.add_cookies(staff_cookies)
    heading = page.get_by_role("heading", level=1)
    status = page.get_by_role("status")

    pending = new_email("bestaetigen")
    number = new_betriebsnummer()
    import_businesses(portal, [f"{number};Glaserei Klar;Mainzer Straße 9;65185;Wiesbaden;;Glaser"], test_output)
    async with Client(portal.gateway_url) as visitor:
        assert (await visitor.api("POST", "/api/v1/accounts/registrations", {**PERSON, "email": pending}))[0] == 202
    await portal.mail.wait_for(lambda m: m.to == pending and "token=" in m.text, timeout=30)

    # A member, found by e-mail; the confirmation mail goes out again.
    await page.goto(portal.gateway_url + "/intern")
    await expect(heading).to_have_text("Interner Bereich")
    await assert_accessible(page, axe, "/intern")
    await steps("intern")
    await page.get_by_label("E-Mail-Adresse", exact=True).fill(pending)
    await page.get_by_role("button", name="Mitglied suchen").click()
    await expect(heading).to_have_text("Mitglied: Erika Mustermann")
    await expect(page.locator("main")).to_contain_text("Nein, noch nicht bestätigt")
    await assert_accessible(page, axe, "the member page", narrow=True)
    await steps("mitglied")
    await page.get_by_role("button", name="Bestätigungs-E-Mail erneut senden").click()
    await expect(status).to_have_text("Eine neue Bestätigungs-E-Mail wird gesendet.")
    assert "/intern/mitglieder/" in page.url and "@" not in unquote(page.url)  # no address in a URL
    await until(lambda: portal.mail.count(lambda m: m.to == pending and "token=" in m.text) == 2, "a second mail")
    await steps("bestaetigung-gesendet")

    # A business, found by its number; a new PIN letter after the step naming its address.
    await page.get_by_role("link", name="Suche", exact=True).click()
    await page.get_by_label("Betriebsnummer", exact=True).fill(number)
    await page.get_by_role("button", name="Betrieb suchen").click()
    await expect(heading).to_have_text("Betrieb: Glaserei Klar")
    await assert_accessible(page, axe, "the business page", narrow=True)
    await steps("betrieb")
    async with PrintShop(portal) as printshop:
        await page.get_by_role("link", name="Neuen PIN-Brief senden").click()
        await expect(heading).to_have_text("Neuen PIN-Brief senden")
        await expect(page.locator("address")).to_contain_text("Mainzer Straße 9")
        await assert_accessible(page, axe, "the letter's confirmation")
        await steps("pin-brief-bestaetigen")
        await page.get_by_role("button", name="PIN-Brief jetzt senden").click()
        await expect(status).to_contain_text("Ein neuer PIN-Brief ist angefordert.")
        letter, pin = await printshop.letter_for(number)
    assert letter.reason == "staff_request"

    # A member links with that letter's PIN; staff end the link and the member's access ends.
    async with Client(portal.gateway_url) as member:
        email, password = await member_with_own_password(portal, member, "glaserei")
        assert (await member.api("POST", "/api/v1/pins/links", {"betriebsnummer": number, "pin": pin}))[0] == 200
        await logged_in(member, email, password)
        assert (await member.api("GET", "/api/v1/pins/businesses/mine"))[0] == 200
        await page.reload()
        await expect(page.get_by_role("link", name=email)).to_be_visible()
        await page.get_by_role("link", name="Verknüpfung beenden").click()
        await expect(heading).to_have_text("Verknüpfung beenden")
        await assert_accessible(page, axe, "the unlinking's confirmation")
        await steps("verknuepfung-bestaetigen")
        await page.get_by_role("button", name="Verknüpfung jetzt beenden").click()
        await expect(status).to_have_text(
            "Die Verknüpfung ist beendet. Das Konto hat keinen Zugang mehr zu diesem Betrieb."
        )
        await expect(page.locator("main")).to_contain_text("Kein Konto ist mit diesem Betrieb verknüpft.")
        await steps("verknuepfung-beendet")
        assert (await member.api("GET", "/api/v1/pins/businesses/mine"))[0] == 403
