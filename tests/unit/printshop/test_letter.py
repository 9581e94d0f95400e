"""The PIN letter: one A4 page, DIN 5008 form B, the PIN readable, umlauts intact."""

import io
from datetime import date

import pytest
from pypdf import PdfReader

from deploy.printshop.letter import (
    ADDRESS_FIELD,
    SENDER_LINE,
    Letter,
    address_lines,
    format_pin,
    german_date,
    render_letter,
)

MM = 72 / 25.4  # PDF points per millimetre


def make_letter(**changes) -> Letter:
    values = dict(
        request_id="0b6a3c1e-1111-4c22-9e33-123456789abc",
        reason="user_request",
        betriebsnummer="4711081",
        business_name="Müller & Söhne Sanitär GmbH",
        street="Große Straße 12",
        postal_code="65183",
        city="Wiesbaden",
        country="DE",
        pin="ABCDEFGH",
        valid_until=date(2026, 3, 31),
        letter_date=date(2025, 11, 26),
        portal_url="https://kundenportal.example",
    )
    values.update(changes)
    return Letter(**values)


def read(pdf: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(pdf))


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in read(pdf).pages)


def positions(pdf: bytes) -> dict[str, tuple[float, float]]:
    """Each text run's start (x, y from the top) in mm."""
    page = read(pdf).pages[0]
    height = float(page.mediabox.height)
    found: dict[str, tuple[float, float]] = {}

    def visit(text, _cm, tm, _font, _size):
        if text.strip() and text.strip() not in found:
            found[text.strip()] = (tm[4] / MM, (height - tm[5]) / MM)

    page.extract_text(visitor_text=visit)
    return found


def test_one_a4_page_with_embedded_fonts():
    reader = read(render_letter(make_letter()))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert round(float(box.width) / MM) == 210 and round(float(box.height) / MM) == 297
    fonts = reader.pages[0]["/Resources"]["/Font"]
    descriptors = [font.get_object()["/DescendantFonts"][0].get_object()["/FontDescriptor"] for font in fonts.values()]
    assert all("/FontFile2" in d for d in descriptors), "fonts must be embedded for the printer"


def test_pin_in_two_groups_and_the_facts_of_the_request():
    text = text_of(render_letter(make_letter()))
    assert "ABCD-EFGH" in text
    assert "4711081" in text
    assert "gültig bis 31.03.2026" in text
    assert "26.11.2025" in text
    assert "Ihre PIN für das Kundenportal" in text
    assert "Sehr geehrte Damen und Herren," in text
    assert "Handwerkskammer Wiesbaden – Kundenportal" in text


def test_umlauts_quotes_and_the_steps_of_the_help_page():
    text = " ".join(text_of(render_letter(make_letter())).split())
    for expected in (
        "Müller & Söhne Sanitär GmbH",
        "Große Straße 12",
        "Grüßen",
        "bitte einloggen",
        "auf „Mein Betrieb“ klicken",
        "auf „Mit meinem Betrieb verknüpfen“ klicken",
        "das Formular ausfüllen und auf „Freischalten und abmelden“ klicken",
        "Noch Fragen? Kontaktieren Sie uns!",
        "kundenportal@hwk-wiesbaden.de",
        "0611 136-444",
        "https://kundenportal.example",
        SENDER_LINE,
    ):
        assert expected in text, expected


def test_reason_decides_the_note():
    requested = " ".join(text_of(render_letter(make_letter(reason="user_request"))).split())
    annual = " ".join(text_of(render_letter(make_letter(reason="annual_notice"))).split())
    assert "nicht angefordert" in requested and "Beitragsbescheid" not in requested
    assert "Beitragsbescheid" in annual and "nicht angefordert" not in annual


def test_address_sits_in_the_window_field():
    x0, y0, width, height = ADDRESS_FIELD
    found = positions(render_letter(make_letter()))
    sender = next(v for k, v in found.items() if k.startswith("Handwerkskammer Wiesbaden ·"))
    name = found["Müller & Söhne Sanitär GmbH"]
    city = found["65183 Wiesbaden"]
    for x, y in (sender, name, city):
        assert x0 <= x <= x0 + width and y0 <= y <= y0 + height, (x, y)
    assert sender[1] < name[1] < city[1]  # sender line above the recipient
    assert name[1] > y0 + 17.7  # the recipient in the address zone, below the remark zone
    assert found["Ihre PIN für das Kundenportal"][1] > y0 + height  # subject below the window


def test_long_names_and_foreign_addresses_stay_in_the_field():
    x0, y0, width, height = ADDRESS_FIELD
    long_name = "Meisterbetrieb für Sanitär-, Heizungs- und Klimatechnik " * 3
    pdf = render_letter(make_letter(business_name=long_name.strip(), country="AT", postal_code="1010", city="Wien"))
    found = positions(pdf)
    assert "ÖSTERREICH" in found
    x, y = found["ÖSTERREICH"]
    assert y <= y0 + height
    assert len(read(pdf).pages) == 1


@pytest.mark.parametrize(
    ("pin", "shown"),
    [
        ("ABCDEFGH", "ABCD-EFGH"),
        ("abcd efgh", "abcd-efgh"),
        ("ABCD-EFGH", "ABCD-EFGH"),
        ("ABCDEFG", "ABCD-EFG"),
        ("ABCDEFGHJKLMNPQR", "ABCD-EFGH-JKLM-NPQR"),
    ],
)
def test_format_pin(pin, shown):
    assert format_pin(pin) == shown


def test_helpers():
    assert german_date(date(2026, 1, 5)) == "05.01.2026"
    assert address_lines(make_letter()) == ["Große Straße 12", "65183 Wiesbaden"]
    assert address_lines(make_letter(country="xx"))[-1] == "XX"
