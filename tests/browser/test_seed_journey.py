"""The seed (../shared/SEED.md), literally, in Chromium: a person clicks the help page's own
labels from "neu registrieren" to "Abmelden", reading the mails from the mail catcher and the PIN
from the letter the print shop printed. Every step is a screenshot in
test-output/browser.test_seed_journey.test_the_seed_from_neu_registrieren_to_abmelden/."""

import re

import pytest
from playwright.async_api import expect

from tests.support.browser import (
    import_businesses,
    letters_for,
    log_in,
    new_betriebsnummer,
    pdf_text,
    pin_from_letter,
    running_printshop,
)
from tests.support.client import new_email
from tests.support.mail import extract_password, extract_token_link
from tests.support.wait import until

pytestmark = pytest.mark.integration

BUSINESS = "Dachdeckerei Seed GmbH"
NEW_PASSWORD = "Regenrinne vor dem Winter pruefen"


@pytest.fixture(scope="module")
async def printshop(portal):
    async with running_printshop(portal, portal.log_dir / "printshop") as shop:
        yield shop


async def test_the_seed_from_neu_registrieren_to_abmelden(portal, printshop, page, steps, test_output) -> None:
    number = new_betriebsnummer()
    import_businesses(portal, [f"{number};{BUSINESS};Wilhelmstraße 1;65185;Wiesbaden;;Dachdecker"], test_output)
    email = new_email("seed")
    menu = page.get_by_role("navigation", name="Hauptmenü")
    heading = page.get_by_role("heading", level=1)

    # 1. Registrieren: "Klicken Sie auf neu registrieren"
    await page.goto(portal.gateway_url + "/")
    await expect(heading).to_have_text("Registrieren und Vorteile nutzen: Der exklusive Mitgliederbereich!")
    await steps("start")
    await page.get_by_role("link", name="neu registrieren", exact=True).first.click()
    await expect(heading).to_have_text("neu registrieren")
    # "Geben Sie Vorname, Name, Ihre E-Mail-Adresse … und Geburtsdatum ein."
    await page.get_by_label("Vorname", exact=True).fill("Erika")
    await page.get_by_label("Name", exact=True).fill("Mustermann")
    await page.get_by_label("E-Mail-Adresse", exact=True).fill(email)
    await page.get_by_label("Geburtsdatum", exact=True).fill("1979-05-04")
    await steps("registrieren-ausgefuellt")
    await page.get_by_role("button", name="neu registrieren").click()
    await expect(heading).to_have_text("Registrierungs-E-Mail gesendet")
    await expect(page.locator("main")).to_contain_text(email)
    await steps("registrierung-gesendet")

    # "… eine Registrierungs-E-Mail …, in der Sie per Mausklick … bestätigen"
    mail = await portal.mail.wait_for(lambda m: m.to == email and "token=" in m.text, timeout=30)
    link = extract_token_link(mail.text)
    assert link.startswith(portal.gateway_url + "/"), link
    await page.goto(link)
    await expect(heading).to_have_text("E-Mail-Adresse bestätigen")
    await steps("bestaetigungslink")
    await page.get_by_role("button", name="Registrierung bestätigen").click()
    await expect(page.get_by_role("status")).to_contain_text("Ihre E-Mail-Adresse ist bestätigt")
    await steps("bestaetigt")

    # "Ein Passwort zu Ihrer Registrierung wird Ihnen anschließend per E-Mail zugesandt."
    mail = await portal.mail.wait_for(lambda m: m.to == email and "Passwort: " in m.text, timeout=30)
    initial = extract_password(mail.text)

    # 2. Erstmaliger Login, über "Login" in der obersten Menüleiste
    await menu.get_by_role("link", name="Login", exact=True).click()
    await expect(heading).to_have_text("Login")
    await log_in(page, email, initial)
    await steps("login-erstes-passwort")
    # The initial password must be replaced first: "Passwort ändern"
    await expect(heading).to_have_text("Passwort ändern")
    await expect(page).to_have_url(re.compile(r"/passwort-aendern$"))
    await steps("passwort-aendern-erzwungen")
    await page.get_by_label("Aktuelles Passwort", exact=True).fill(initial)
    await page.get_by_label("Neues Passwort", exact=True).fill(NEW_PASSWORD)
    await page.get_by_label("Neues Passwort wiederholen", exact=True).fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Passwort ändern").click()
    await expect(page.get_by_role("status")).to_have_text("Ihr Passwort wurde geändert.")
    await expect(heading).to_have_text("Ihr persönliches Kundenkonto")
    await steps("passwort-geaendert")

    # 3. Freischaltung: "Mein Betrieb" und anschließend "PIN anfordern"
    await menu.get_by_role("link", name="Mein Betrieb", exact=True).click()
    await expect(heading).to_have_text("Mein Betrieb")
    await steps("mein-betrieb")
    await page.get_by_role("link", name="PIN anfordern", exact=True).click()
    await expect(heading).to_have_text("PIN anfordern")
    await page.get_by_label("Betriebsnummer", exact=True).fill(number)
    await steps("pin-anfordern")
    await page.get_by_role("button", name="PIN anfordern").click()
    await expect(page.get_by_role("status")).to_contain_text("Ihr PIN-Brief ist angefordert")
    await steps("pin-angefordert")

    # The letter "per Post": the PDF the print shop printed, listed on its own page.
    async def printed():
        return letters_for(printshop, number)

    letters = await until(printed, "the print shop's PIN letter", 30)
    assert len(letters) == 1, letters
    shop_page = await page.context.new_page()
    await shop_page.goto(printshop.url)
    row = shop_page.get_by_role("row").filter(has_text=number)
    await expect(row).to_contain_text(BUSINESS)
    await steps("druckerei-briefe", shop_page)
    answer = await shop_page.request.get(f"{printshop.url}briefe/{letters[0].name}")
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
    letter = pdf_text(await answer.body())
    assert BUSINESS in letter and "Wilhelmstraße 1" in letter and "65185 Wiesbaden" in letter, letter
    assert number in letter, letter
    pin = pin_from_letter(letter)
    await shop_page.close()

    # 4. Mit Betrieb verknüpfen: "Mein Betrieb" → "Mit meinem Betrieb verknüpfen"
    await menu.get_by_role("link", name="Mein Betrieb", exact=True).click()
    await expect(page.get_by_role("cell").filter(has_text=number)).to_be_visible()  # the letter is listed
    await steps("mein-betrieb-brief-unterwegs")
    await page.get_by_role("link", name="Mit meinem Betrieb verknüpfen", exact=True).click()
    await expect(heading).to_have_text("Mit meinem Betrieb verknüpfen")
    await page.get_by_label("Betriebsnummer", exact=True).fill(number)
    await page.get_by_label("PIN", exact=True).fill(pin)
    await steps("verknuepfen-ausgefuellt")
    await page.get_by_role("button", name="Freischalten und abmelden").click()
    # "Nach erfolgreicher Freischaltung werden Sie aus Sicherheitsgründen automatisch abgemeldet."
    await expect(page.get_by_role("status")).to_contain_text("aus Sicherheitsgründen", ignore_case=True)
    await expect(menu.get_by_role("link", name="Login", exact=True)).to_be_visible()
    await expect(menu.get_by_role("button", name="Abmelden")).to_have_count(0)
    await steps("freigeschaltet-abgemeldet")

    # "Nach erneuter Anmeldung haben Sie Zugang zum exklusiven Mitgliederbereich."
    await menu.get_by_role("link", name="Login", exact=True).click()
    await log_in(page, email, NEW_PASSWORD)
    await expect(heading).to_have_text("Ihr persönliches Kundenkonto")
    await steps("erneut-angemeldet")
    await menu.get_by_role("link", name="Mein Betrieb", exact=True).click()
    await expect(page.get_by_text("Der exklusive Mitgliederbereich")).to_be_visible()
    await expect(page.get_by_role("heading", name=BUSINESS, level=2)).to_be_visible()
    await expect(page.locator("dl.facts").first).to_contain_text(number)
    await expect(page.get_by_role("listitem").filter(has_text=email)).to_contain_text("(Sie)")
    await steps("mitgliederbereich")

    # Tipp: "oben rechts über das Feld „zum Kundenportal“" back to the personal account
    to_portal = menu.get_by_role("link", name="zum Kundenportal", exact=True)
    # Where it is, is checked at the very end, so that one misplaced button does not hide the rest.
    top_right = await is_top_right(page, to_portal)
    await to_portal.click()
    await expect(heading).to_have_text("Ihr persönliches Kundenkonto")
    await expect(page.locator("main")).to_contain_text(BUSINESS)
    await steps("zum-kundenportal")

    # "Bitte denken Sie daran sich abzumelden"
    await menu.get_by_role("button", name="Abmelden").click()
    await expect(page.get_by_role("status")).to_have_text("Sie wurden abgemeldet.")
    await expect(menu.get_by_role("link", name="Login", exact=True)).to_be_visible()
    await steps("abgemeldet")
    await page.goto(portal.gateway_url + "/konto")  # the session is really gone
    await expect(page).to_have_url(re.compile(r"/login$"))
    await steps("konto-nach-abmelden")
    assert top_right is True, f"„zum Kundenportal“ is not top right at 1280 px (seed: „oben rechts“): {top_right}"


async def is_top_right(page, locator) -> bool | dict:
    """True when the element sits in the top bar's right half; else its box, for the message."""
    box = await locator.bounding_box()
    width = page.viewport_size["width"]
    if box and box["x"] + box["width"] / 2 > width / 2 and box["y"] < 120:
        return True
    return {"box": box, "viewport_width": width}
