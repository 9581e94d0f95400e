"""Accessibility and layout of every page a visitor or a logged-in member reaches, in Chromium:
axe-core (WCAG 2 A/AA and best practices) at 360×740 and 1280×900 finds nothing "serious" or
"critical", nothing scrolls sideways at 360 px, the login field sits top right, and the forms work
without JavaScript. Screenshots: test-output/browser.test_accessibility.<test>/<width>.png."""

import re

import pytest
from playwright.async_api import expect

from tests.support.browser import (
    DESKTOP,
    MEMBER_PAGES,
    MOBILE,
    VISITOR_PAGES,
    Steps,
    axe_source,
    describe,
    run_axe,
    scroll_width,
)
from tests.support.client import new_email
from tests.support.mail import extract_token_link

pytestmark = pytest.mark.integration

BLOCKING = {"serious", "critical"}
# Impressum, Datenschutzerklärung, Barrierefreiheit (with the development placeholders).
LEGAL_PAGES = [("/impressum", 200), ("/datenschutz", 200), ("/barrierefreiheit", 200)]
PAGES = [(path, status, "visitor") for path, status in VISITOR_PAGES + LEGAL_PAGES] + [
    (path, status, "member") for path, status in MEMBER_PAGES
]
IDS = [f"{who}-{path.split('?')[0].strip('/').replace('/', '-') or 'start'}" for path, _, who in PAGES]


@pytest.fixture(scope="module")
def axe() -> str:
    return axe_source()


@pytest.fixture(scope="module")
async def contexts(browser, member_state):
    """A visitor's and a logged-in member's browser, each at both widths."""
    made = {}
    for who in ("visitor", "member"):
        for viewport in (MOBILE, DESKTOP):
            made[who, viewport["width"]] = await browser.new_context(
                viewport=viewport, locale="de-DE", storage_state=member_state if who == "member" else None
            )
    yield made
    for context in made.values():
        await context.close()


@pytest.mark.parametrize(("path", "status", "who"), PAGES, ids=IDS)
async def test_no_serious_violation_and_no_sideways_scrolling(
    portal, contexts, axe, path, status, who, test_output
) -> None:
    problems = []
    for viewport in (MOBILE, DESKTOP):
        width = viewport["width"]
        page = await contexts[who, width].new_page()
        try:
            response = await page.goto(portal.gateway_url + path)
            assert response.status == status, f"{path} as {who}: HTTP {response.status}, expected {status}"
            if who == "member":  # still logged in, not sent to the login
                await expect(
                    page.get_by_role("navigation", name="Hauptmenü").get_by_role("button", name="Abmelden", exact=True)
                ).to_be_visible()
            await page.screenshot(path=str(test_output / f"{width}.png"), full_page=True)
            violations = await run_axe(page, axe)
            if violations:
                print(f"axe-core at {width} px on {path} ({who}):\n{describe(violations)}")
            blocking = [v for v in violations if v["impact"] in BLOCKING]
            if blocking:
                problems.append(f"at {width} px, serious or critical:\n{describe(blocking)}")
            if width == MOBILE["width"] and (scrolled := await scroll_width(page)) > width:
                wide = await page.evaluate(
                    """(limit) => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > limit + 1)
                    .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                                   + (e.className ? '.' + String(e.className).replace(/ /g, '.') : ''))""",
                    width,
                )
                problems.append(f"at {width} px the page is {scrolled} px wide (scrolls sideways): {wide}")
        finally:
            await page.close()
    assert not problems, f"{path} ({who}):\n" + "\n".join(problems)


async def test_the_scan_itself_finds_what_it_must(portal, contexts, axe) -> None:
    """axe-core runs under the portal's Content-Security-Policy and reports a planted fault: an
    image without alternative text (critical) and a field without a label (critical)."""
    page = await contexts["visitor", DESKTOP["width"]].new_page()
    try:
        await page.goto(portal.gateway_url + "/registrieren")
        assert (
            "script-src 'self'" in (await page.request.get(portal.gateway_url + "/")).headers["content-security-policy"]
        )
        assert not [v for v in await run_axe(page, axe) if v["impact"] in BLOCKING]
        await page.evaluate("""() => {
            const img = document.createElement('img'); img.src = '/static/portal.css';
            const input = document.createElement('input'); input.type = 'text';
            document.querySelector('main').append(img, input);
        }""")
        found = {v["id"]: v["impact"] for v in await run_axe(page, axe)}
        assert found.get("image-alt") == "critical" and found.get("label") == "critical", found
    finally:
        await page.close()


async def test_login_and_zum_kundenportal_sit_top_right(portal, contexts, test_output) -> None:
    """Seed: "rechts oben den Login-Button" and "oben rechts über das Feld „zum Kundenportal“"."""
    misplaced = []
    for who, label, pages in (("visitor", "Login", VISITOR_PAGES), ("member", "zum Kundenportal", MEMBER_PAGES)):
        page = await contexts[who, DESKTOP["width"]].new_page()
        try:
            for path, _status in pages:
                await page.goto(portal.gateway_url + path)
                field = page.get_by_role("navigation", name="Hauptmenü").get_by_role("link", name=label, exact=True)
                box = await field.bounding_box()
                if not box or box["x"] + box["width"] / 2 <= DESKTOP["width"] / 2 or box["y"] > 120:
                    misplaced.append(f"{path} ({who}): „{label}“ at {box}")
            await page.screenshot(path=str(test_output / f"{who}-1280.png"))
        finally:
            await page.close()
    assert not misplaced, "not top right at 1280 px:\n" + "\n".join(misplaced)


async def test_registration_and_confirmation_work_without_javascript(portal, browser, test_output) -> None:
    context = await browser.new_context(viewport=MOBILE, locale="de-DE", java_script_enabled=False)
    try:
        page = await context.new_page()
        steps = Steps(page, test_output)
        email = new_email("ohnejs")
        await page.goto(portal.gateway_url + "/")
        await page.get_by_role("link", name="neu registrieren", exact=True).first.click()
        await page.get_by_label("Vorname", exact=True).fill("Erika")
        await page.get_by_label("Name", exact=True).fill("Mustermann")
        await page.get_by_label("E-Mail-Adresse", exact=True).fill(email)
        await page.get_by_label("Geburtsdatum", exact=True).fill("1979-05-04")
        await steps("registrieren-ohne-js")
        await page.get_by_role("button", name="neu registrieren").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Registrierungs-E-Mail gesendet")
        await expect(page.locator("main")).to_contain_text(email)
        await steps("gesendet-ohne-js")
        mail = await portal.mail.wait_for(lambda m: m.to == email and "token=" in m.text, timeout=30)
        await page.goto(extract_token_link(mail.text))
        await page.get_by_role("button", name="Registrierung bestätigen").click()
        await expect(page.get_by_role("status")).to_contain_text("Ihre E-Mail-Adresse ist bestätigt")
        await steps("bestaetigt-ohne-js")
        await portal.mail.wait_for(lambda m: m.to == email and "Passwort: " in m.text, timeout=30)
        await expect(page).to_have_url(re.compile(r"/registrierung/bestaetigen$"))
    finally:
        await context.close()
