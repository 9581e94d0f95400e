"""Impressum, Datenschutzerklärung, Barrierefreiheit: reachable, linked from every footer (error
pages too), placeholders while unset, the chamber's settings once set, the retention table from
services/gateway/retention.py."""

import html as htmllib
import re

import pytest

from services.gateway.app import create_app
from services.gateway.retention import RETENTION
from tests.unit.gateway.conftest import make_settings
from tests.unit.gateway.html_checks import assert_no_inline_script_or_style

LEGAL = {
    "/impressum": "Impressum",
    "/datenschutz": "Datenschutzerklärung",
    "/barrierefreiheit": "Erklärung zur Barrierefreiheit",
}
FOOTER_LINKS = [f'<a href="{path}">{title}</a>' for path, title in LEGAL.items()]
SETTINGS = {
    "legal_name": "Handwerkskammer Musterstadt",
    "legal_address": "Musterstraße 1|12345 Musterstadt",
    "legal_represented_by": "Präsidentin Erika Muster, Hauptgeschäftsführer Max Beispiel",
    "legal_supervisory_authority": "Ministerium für Wirtschaft des Landes Muster",
    "legal_vat_id": "DE123456789",
    "legal_content_responsible": "Max Beispiel, Musterstraße 1, 12345 Musterstadt",
    "legal_privacy_officer": "datenschutz@hwk.example",
    "legal_privacy_authority": "Landesbeauftragte für Datenschutz Muster",
    "legal_log_days": 14,
    "legal_accessibility_contact": "barrieren@hwk.example",
    "legal_accessibility_date": "2026-11-02",
    "legal_enforcement_body": "Schlichtungsstelle Muster",
}


def text(html: str) -> str:
    return htmllib.unescape(re.sub(r"\s+", " ", html))


@pytest.mark.parametrize("path", list(LEGAL))
async def test_each_legal_page_is_reachable_with_one_heading(gateway, path):
    response = await gateway.get(path)
    html = await response.text()
    assert response.status == 200
    assert html.count("<h1") == 1 and f"<h1>{LEGAL[path]}</h1>" in html
    assert f"<title>{LEGAL[path]} – " in html
    assert_no_inline_script_or_style(html)


@pytest.mark.parametrize("path", ["/", "/hilfe", "/kontakt", "/registrieren", "/login", *LEGAL, "/gibt-es-nicht"])
async def test_every_page_links_the_legal_pages_in_its_footer(gateway, path):
    response = await gateway.get(path)
    html = await response.text()
    footer = html.split('<footer class="site-footer">', 1)[1]
    assert '<nav class="legal" aria-label="Rechtliches">' in footer
    assert all(link in footer for link in FOOTER_LINKS), path


async def test_an_error_page_links_them_too(gateway):
    response = await gateway.get("/gibt-es-nicht")
    html = await response.text()
    assert response.status == 404 and "Seite nicht gefunden" in html
    assert all(link in html for link in FOOTER_LINKS)


async def test_unset_texts_show_placeholders_naming_the_variable(gateway):
    impressum = text(await (await gateway.get("/impressum")).text())
    assert '<span class="placeholder">[Anschrift der Kammer – in PORTAL_LEGAL_ADDRESS eintragen]</span>' in impressum
    assert "[Name der Kammer – in PORTAL_LEGAL_NAME eintragen]" in impressum
    assert "in PORTAL_LEGAL_SUPERVISORY_AUTHORITY eintragen]" in impressum
    assert "in PORTAL_LEGAL_CONTENT_RESPONSIBLE eintragen]" in impressum
    assert "in PORTAL_LEGAL_VAT_ID eintragen]" in impressum
    assert "Körperschaft des öffentlichen Rechts" in impressum
    # The support contact is real without any setting.
    assert 'href="mailto:kundenportal@hwk-wiesbaden.de"' in impressum and "0611 136-444" in impressum
    privacy = text(await (await gateway.get("/datenschutz")).text())
    assert "in PORTAL_LEGAL_PRIVACY_OFFICER eintragen]" in privacy
    assert "in PORTAL_LEGAL_PRIVACY_AUTHORITY eintragen]" in privacy
    assert '<span class="placeholder">[Aufbewahrungsdauer der Server-Protokolle in Tagen' in privacy
    statement = text(await (await gateway.get("/barrierefreiheit")).text())
    assert "in PORTAL_LEGAL_ACCESSIBILITY_DATE eintragen]" in statement
    assert "in PORTAL_LEGAL_ENFORCEMENT_BODY eintragen]" in statement
    # Without its own contact, feedback goes to support.
    assert "E-Mail: kundenportal@hwk-wiesbaden.de" in statement


async def test_the_settings_fill_in_every_text(accounts, start_gateway):
    gateway = await start_gateway(accounts_url=accounts.url, support_email="hilfe@hwk.example", **SETTINGS)
    pages = {path: text(await (await gateway.get(path)).text()) for path in LEGAL}
    for page in pages.values():
        assert "eintragen]" not in page and 'class="placeholder"' not in page
    impressum = pages["/impressum"]
    assert "Handwerkskammer Musterstadt" in impressum and "Musterstraße 1<br>12345 Musterstadt" in impressum
    for name in ("legal_represented_by", "legal_supervisory_authority", "legal_vat_id", "legal_content_responsible"):
        assert SETTINGS[name] in impressum, name
    assert 'href="mailto:hilfe@hwk.example"' in impressum
    privacy = pages["/datenschutz"]
    for name in ("legal_privacy_officer", "legal_privacy_authority"):
        assert SETTINGS[name] in privacy, name
    assert "<td>14 Tage</td>" in privacy
    statement = pages["/barrierefreiheit"]
    assert "am 02.11.2026 erstellt" in statement
    assert "barrieren@hwk.example" in statement and "Schlichtungsstelle Muster" in statement


async def test_an_empty_vat_id_means_the_chamber_has_none(accounts, start_gateway):
    gateway = await start_gateway(accounts_url=accounts.url, legal_vat_id="")
    impressum = await (await gateway.get("/impressum")).text()
    assert "Umsatzsteuer" not in impressum


async def test_the_retention_table_is_rendered_from_the_data_structure(gateway):
    privacy = text(await (await gateway.get("/datenschutz")).text())
    table = privacy.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table)
    assert len(rows) == len(RETENTION)
    for row, item in zip(rows, RETENTION, strict=True):
        cells = re.findall(r"<td>(.*?)</td>", row.strip())
        assert cells[0] == item.what and cells[1] == item.purpose
        if "{" not in item.how_long:
            assert cells[2] == item.how_long


def test_the_retention_table_names_what_the_readme_promises():
    lifetimes = " ".join(item.how_long for item in RETENTION)
    for fact in ("30 Tage", "12 Stunden", "1 Jahr", "7 Tage", "180 Tage", "60 Tage"):
        assert fact in lifetimes, fact


def test_outside_development_the_unset_variables_are_named_at_start(caplog):
    with caplog.at_level("WARNING", logger="services.gateway.legal_pages"):
        create_app(make_settings(dev_mode=True), messaging=False)
        assert caplog.records == []
        create_app(make_settings(**(SETTINGS | {"legal_enforcement_body": None})), messaging=False)
        assert [record.unset for record in caplog.records] == [["PORTAL_LEGAL_ENFORCEMENT_BODY"]]
