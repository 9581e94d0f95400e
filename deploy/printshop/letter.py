"""The PIN letter: one A4 page, German, DIN 5008 form B for a window envelope (DL, C6/5).

Geometry (mm from the page's top-left corner), DIN 5008 form B:
- letterhead in the top 45 mm;
- address field at 20 mm from the left and 45 mm from the top, 85 × 45 mm: the sender line
  (Rücksendeangabe) in its upper zone (17.7 mm), the recipient in the address zone (27.3 mm,
  at most 6 lines) below, text indented 5 mm (so at 25 mm, the body's left margin);
- information block at 125 mm from the left, from 50 mm down;
- fold marks at 105 mm and 210 mm, the punch mark at 148.5 mm, on the left edge.

Fonts are the bundled DejaVu TTFs (fonts/), embedded as subsets, so umlauts render on any
machine and the PDF needs no fonts at the printer.
"""

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from fpdf import FPDF
from fpdf.enums import XPos, YPos

FONTS = Path(__file__).resolve().parent / "fonts"

LETTERHEAD = "Handwerkskammer Wiesbaden – Kundenportal"
SENDER_LINE = "Handwerkskammer Wiesbaden · Bierstadter Str. 45 · 65189 Wiesbaden"
CONTACT_EMAIL = "kundenportal@hwk-wiesbaden.de"
CONTACT_PHONE = "0611 136-444"
SUBJECT = "Ihre PIN für das Kundenportal"
SALUTATION = "Sehr geehrte Damen und Herren,"
STEPS = (
    "bitte einloggen",
    "auf „Mein Betrieb“ klicken",
    "auf „Mit meinem Betrieb verknüpfen“ klicken",
    "das Formular ausfüllen und auf „Freischalten und abmelden“ klicken",
)

# DIN 5008 form B, in mm
PAGE_WIDTH, PAGE_HEIGHT = 210.0, 297.0
ADDRESS_FIELD = (20.0, 45.0, 85.0, 45.0)  # x, y, width, height
ADDRESS_INDENT = 5.0
REMARK_ZONE_HEIGHT = 17.7  # upper part of the address field: the sender line
ADDRESS_LINES = 6
INFO_BLOCK_X, INFO_BLOCK_Y = 125.0, 50.0
LEFT, RIGHT = 25.0, 20.0
FOLD_MARKS = (105.0, 210.0)
PUNCH_MARK = 148.5

COUNTRIES = {  # a foreign address ends in the country, in capitals (Deutsche Post)
    "AT": "ÖSTERREICH",
    "BE": "BELGIEN",
    "CH": "SCHWEIZ",
    "CZ": "TSCHECHIEN",
    "DK": "DÄNEMARK",
    "FR": "FRANKREICH",
    "IT": "ITALIEN",
    "LU": "LUXEMBURG",
    "NL": "NIEDERLANDE",
    "PL": "POLEN",
}


@dataclass(frozen=True)
class Letter:
    request_id: str
    reason: Literal["user_request", "annual_notice"]
    betriebsnummer: str
    business_name: str
    street: str
    postal_code: str
    city: str
    country: str
    pin: str
    valid_until: date
    letter_date: date
    portal_url: str | None = None


def german_date(value: date) -> str:
    return value.strftime("%d.%m.%Y")


def format_pin(pin: str) -> str:
    """Two groups, `ABCD-EFGH`, for reading aloud and typing; longer PINs in groups of four."""
    plain = "".join(pin.split()).replace("-", "")
    if len(plain) <= 12:
        half = (len(plain) + 1) // 2
        groups = [plain[:half], plain[half:]]
    else:
        groups = [plain[i : i + 4] for i in range(0, len(plain), 4)]
    return "-".join(g for g in groups if g)


def address_lines(letter: Letter) -> list[str]:
    lines = [letter.street, f"{letter.postal_code} {letter.city}"]
    country = letter.country.upper()
    if country != "DE":
        lines.append(COUNTRIES.get(country, country))
    return lines


class _Pdf(FPDF):
    def __init__(self) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.add_font("Sans", "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font("Sans", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        self.add_font("Mono", "B", str(FONTS / "DejaVuSansMono-Bold.ttf"))
        self.set_auto_page_break(False)
        self.set_margins(LEFT, 20, RIGHT)
        self.c_margin = 0

    def para(self, text: str, size: float = 10, style: str = "", height: float = 4.6) -> None:
        self.set_font("Sans", style, size)
        self.multi_cell(0, height, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def render_letter(letter: Letter) -> bytes:
    pdf = _Pdf()
    pdf.set_title(f"PIN-Brief Betriebsnummer {letter.betriebsnummer}")
    pdf.set_author("Handwerkskammer Wiesbaden")
    pdf.set_subject(SUBJECT)
    pdf.set_creator("Kundenportal-Druckerei")
    pdf.add_page()

    _marks(pdf)
    _letterhead(pdf)
    _address_field(pdf, letter)
    _info_block(pdf, letter)
    _body(pdf, letter)
    _footer(pdf, letter)
    if pdf.page != 1:  # a guard for the layout: the letter is one sheet
        raise ValueError("the PIN letter does not fit on one page")
    return bytes(pdf.output())


def _marks(pdf: _Pdf) -> None:
    pdf.set_draw_color(0)
    pdf.set_line_width(0.2)
    for y in FOLD_MARKS:
        pdf.line(4, y, 9, y)
    pdf.line(4, PUNCH_MARK, 11, PUNCH_MARK)


def _letterhead(pdf: _Pdf) -> None:
    pdf.set_font("Sans", "B", 15)
    pdf.set_xy(LEFT, 17)
    pdf.cell(0, 8, LETTERHEAD)
    pdf.set_line_width(0.4)
    pdf.line(LEFT, 27, PAGE_WIDTH - RIGHT, 27)
    pdf.set_font("Sans", "", 8.5)
    pdf.set_xy(LEFT, 29)
    pdf.cell(0, 4, f"{CONTACT_EMAIL} · Telefon {CONTACT_PHONE}")


def _address_field(pdf: _Pdf, letter: Letter) -> None:
    x, y, width, _height = ADDRESS_FIELD
    inner = width - ADDRESS_INDENT - 2
    # sender line: bottom of the remark zone, small and underlined (Rücksendeangabe)
    pdf.set_font("Sans", "", 6)
    pdf.set_xy(x + ADDRESS_INDENT, y + REMARK_ZONE_HEIGHT - 5)
    pdf.cell(inner, 3, _fit(pdf, SENDER_LINE, inner), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    line_y = y + REMARK_ZONE_HEIGHT - 1.6
    pdf.set_line_width(0.1)
    pdf.line(
        x + ADDRESS_INDENT,
        line_y,
        x + ADDRESS_INDENT + min(inner, pdf.get_string_width(_fit(pdf, SENDER_LINE, inner))),
        line_y,
    )

    # recipient: the business name may wrap; the font shrinks until all fits in 6 lines
    tail = address_lines(letter)
    for size in (10, 9, 8, 7):
        pdf.set_font("Sans", "", size)
        name_lines = pdf.multi_cell(inner, size * 0.42, letter.business_name, dry_run=True, output="LINES")
        if len(name_lines) + len(tail) <= ADDRESS_LINES:
            break
    else:
        name_lines = name_lines[: ADDRESS_LINES - len(tail)]
    line_height = pdf.font_size_pt * 0.42
    pdf.set_xy(x + ADDRESS_INDENT, y + REMARK_ZONE_HEIGHT + 1)
    for line in [*name_lines, *tail]:
        pdf.set_x(x + ADDRESS_INDENT)
        pdf.cell(inner, line_height, _fit(pdf, line, inner), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _info_block(pdf: _Pdf, letter: Letter) -> None:
    rows = (
        ("Betriebsnummer", letter.betriebsnummer),
        ("Datum", german_date(letter.letter_date)),
    )
    y = INFO_BLOCK_Y
    for label, value in rows:
        pdf.set_xy(INFO_BLOCK_X, y)
        pdf.set_font("Sans", "", 7)
        pdf.cell(24, 4.2, f"{label}:")
        pdf.set_font("Sans", "", 8.5)
        pdf.cell(PAGE_WIDTH - RIGHT - INFO_BLOCK_X - 24, 4.2, _fit(pdf, value, PAGE_WIDTH - RIGHT - INFO_BLOCK_X - 24))
        y += 4.6


# What differs between a PIN asked for in the portal and the one that comes with the yearly notice.
OPENING = {
    "annual_notice": (
        "mit Ihrem Beitragsbescheid erhalten Sie Ihre PIN für das Kundenportal der "
        "Handwerkskammer Wiesbaden. Mit dieser PIN verknüpfen Sie Ihren persönlichen "
        "Kunden-Login einmalig mit Ihrem Betrieb und erhalten so Zugang zum exklusiven "
        "Mitgliederbereich."
    ),
    "requested": (
        "Sie haben im Kundenportal der Handwerkskammer Wiesbaden eine PIN für Ihren "
        "Betrieb angefordert. Mit dieser PIN verknüpfen Sie Ihren persönlichen "
        "Kunden-Login einmalig mit Ihrem Betrieb und erhalten so Zugang zum exklusiven "
        "Mitgliederbereich."
    ),
}
AFTERWORD = {
    "annual_notice": (
        "Diese PIN erhalten Sie zusammen mit Ihrem Beitragsbescheid. Ist Ihr Kunden-Login "
        "bereits mit Ihrem Betrieb verknüpft, ist nichts weiter zu tun."
    ),
    "requested": (
        "Sie haben diese PIN nicht angefordert? Dann können Sie dieses Schreiben "
        "ignorieren: Ohne die PIN kann niemand Ihren Betrieb verknüpfen. Im Zweifel "
        "sprechen Sie uns bitte an."
    ),
}


def _body(pdf: _Pdf, letter: Letter) -> None:
    """Subject, opening, the PIN, the seed's steps, closing and the contact block, top to bottom."""
    width = PAGE_WIDTH - LEFT - RIGHT
    kind = "annual_notice" if letter.reason == "annual_notice" else "requested"
    pdf.set_xy(LEFT, ADDRESS_FIELD[1] + ADDRESS_FIELD[3] + 8.46)  # subject: 8.46 mm below the field
    pdf.para(SUBJECT, size=11, style="B", height=5)
    pdf.ln(5)
    pdf.para(SALUTATION)
    pdf.ln(2.5)
    pdf.para(OPENING[kind])
    pdf.ln(4)
    _pin_box(pdf, letter, width)
    _steps(pdf, letter, width)
    pdf.ln(2)
    pdf.para(AFTERWORD[kind])
    pdf.ln(2)
    pdf.para("Bitte bewahren Sie die PIN sorgfältig auf und geben Sie sie nicht weiter.")
    pdf.ln(4)
    pdf.para("Mit freundlichen Grüßen")
    pdf.para("Ihre Handwerkskammer Wiesbaden")
    pdf.ln(5)
    _contact_block(pdf, width)


def _pin_box(pdf: _Pdf, letter: Letter, width: float) -> None:
    top = pdf.get_y()
    box_height = 24
    pdf.set_line_width(0.5)
    pdf.rect(LEFT, top, width, box_height)
    pdf.set_xy(LEFT + 5, top + 3)
    pdf.set_font("Sans", "", 9)
    pdf.cell(60, 4.5, "Ihre PIN")
    pdf.set_xy(LEFT + 90, top + 3)
    pdf.cell(0, 4.5, "Betriebsnummer")
    pdf.set_xy(LEFT + 5, top + 8)
    pdf.set_font("Mono", "B", 22)
    pdf.cell(80, 10, format_pin(letter.pin))
    pdf.set_xy(LEFT + 90, top + 9)
    pdf.set_font("Sans", "B", 13)
    pdf.cell(0, 8, _fit(pdf, letter.betriebsnummer, width - 95))
    pdf.set_xy(LEFT + 5, top + 18.5)
    pdf.set_font("Sans", "", 9)
    pdf.cell(0, 4, f"gültig bis {german_date(letter.valid_until)} – der Bindestrich dient nur der Lesbarkeit")
    pdf.set_xy(LEFT, top + box_height + 5)


def _steps(pdf: _Pdf, letter: Letter, width: float) -> None:
    """Step 4 of the seed, in its own words."""
    pdf.para("So verknüpfen Sie Ihren Kunden-Login mit Ihrem Betrieb:", style="B")
    pdf.ln(1)
    for number, step in enumerate(STEPS, 1):
        pdf.set_x(LEFT + 3)
        pdf.set_font("Sans", "", 10)
        pdf.cell(6, 4.8, f"{number}.")
        pdf.multi_cell(width - 9, 4.8, step, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.para(
        "Geben Sie im Formular Ihre Betriebsnummer und die PIN ein. Nach erfolgreicher "
        "Freischaltung werden Sie aus Sicherheitsgründen automatisch abgemeldet. Nach "
        "erneuter Anmeldung haben Sie Zugang zum exklusiven Mitgliederbereich."
    )
    pdf.ln(2)
    where = f" unter {letter.portal_url}" if letter.portal_url else ""
    pdf.para(f"Noch kein Kunden-Login? Klicken Sie im Kundenportal{where} auf „neu registrieren“.")


def _contact_block(pdf: _Pdf, width: float) -> None:
    """As on the help page: "Noch Fragen? Kontaktieren Sie uns!"."""
    top = pdf.get_y()
    pdf.set_fill_color(238, 238, 238)
    pdf.rect(LEFT, top, width, 21, style="F")
    pdf.set_xy(LEFT + 4, top + 2.5)
    pdf.set_font("Sans", "B", 10)
    pdf.cell(0, 4.6, "Noch Fragen? Kontaktieren Sie uns!", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_x(LEFT + 4)
    pdf.set_font("Sans", "", 8.5)
    pdf.multi_cell(
        width - 8,
        4.2,
        "Bitte nennen Sie uns Ihre Betriebsnummer und den Namen des "
        "Betriebs, damit wir Ihnen schnellstmöglich helfen können.",
        align="L",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_xy(LEFT + 4, pdf.get_y() + 0.8)
    pdf.set_font("Sans", "B", 9)
    pdf.cell(0, 4.6, f"{CONTACT_EMAIL}  ·  {CONTACT_PHONE}")


def _footer(pdf: _Pdf, letter: Letter) -> None:
    pdf.set_font("Sans", "", 6.5)
    pdf.set_xy(LEFT, PAGE_HEIGHT - 14)
    pdf.cell(
        0,
        3,
        "Dieses Schreiben wurde maschinell erstellt und ist ohne Unterschrift gültig.",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.cell(0, 3, f"Vorgang {letter.request_id}")


def _fit(pdf: _Pdf, text: str, width: float) -> str:
    """Cut a line that would run out of its field (the address window must stay clean)."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text + "…"
