"""Reading the business register file, without I/O: every row checked, every problem by line.

The file is UTF-8 (a BOM is accepted), `;`-separated, with the header
`Betriebsnummer;Name;Straße;PLZ;Ort;E-Mail;Gewerk`. A Betriebsnummer is ASCII digits, kept as
text (leading zeros matter), at most as many as the events allow. Every field a PIN letter
carries must fit `pin.requested.v1` (contract_fields.py): a row the yearly run could not send is
refused here, by its line. Fields are trimmed, runs of white space become one space; any other
control character (NUL, ESC …) is refused. Empty lines are skipped; E-Mail and Gewerk may be empty.
"""

import csv
import io
import re
import unicodedata
from dataclasses import dataclass

from services.pins import contract_fields

HEADER = ["Betriebsnummer", "Name", "Straße", "PLZ", "Ort", "E-Mail", "Gewerk"]
MAX_TRADE = 200  # Gewerk is shown in the member area only; no event carries it
_NUMBER_DIGITS = contract_fields.max_length("Betriebsnummer")
_PLZ = re.compile(r"[0-9]{5}")
_NUMBER = re.compile(rf"[0-9]{{1,{_NUMBER_DIGITS}}}")
_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


@dataclass(frozen=True)
class Business:
    betriebsnummer: str
    name: str
    street: str
    postal_code: str
    city: str
    email: str | None
    trade: str | None

    def row(self) -> tuple:
        return (self.betriebsnummer, self.name, self.street, self.postal_code, self.city, self.email, self.trade)


@dataclass(frozen=True)
class Parsed:
    businesses: list[Business]
    problems: list[str]  # "Zeile N: <Grund>", in file order


def parse(data: bytes) -> Parsed:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return Parsed(
            [], [f"Zeile {line}: Die Datei ist nicht UTF-8-kodiert. Bitte speichern Sie sie als „CSV UTF-8“."]
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=";")
    businesses: list[Business] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    line = 1
    try:
        for fields in reader:
            start, line = line, reader.line_num + 1
            if start == 1:
                if [f.strip() for f in fields] != HEADER:
                    return Parsed([], [f"Zeile 1: Die Kopfzeile muss genau „{';'.join(HEADER)}“ lauten."])
                continue
            if not any(f.strip() for f in fields):
                continue
            try:
                business = check_row(fields)
            except ValueError as problem:
                problems.append(f"Zeile {start}: {problem}")
                continue
            if business.betriebsnummer in seen:
                problems.append(
                    f"Zeile {start}: Die Betriebsnummer {business.betriebsnummer} steht bereits in Zeile "
                    f"{seen[business.betriebsnummer]}."
                )
                continue
            seen[business.betriebsnummer] = start
            businesses.append(business)
    except csv.Error:
        problems.append(f"Zeile {line}: Ein Anführungszeichen ist nicht geschlossen.")
    if line == 1:
        problems.append("Zeile 1: Die Datei ist leer; es fehlt die Kopfzeile.")
    elif not businesses and not problems:
        problems.append("Zeile 2: Die Datei enthält keine Betriebe.")
    return Parsed(businesses, problems)


def check_row(fields: list[str]) -> Business:
    if len(fields) != len(HEADER):
        raise ValueError(f"{len(HEADER)} Felder erwartet, {len(fields)} gefunden (Trennzeichen ist das Semikolon).")
    values = dict(zip(HEADER, (_clean(f) for f in fields), strict=True))
    for label, value in values.items():
        if any(unicodedata.category(c) == "Cc" for c in value):
            raise ValueError(f"Das Feld „{label}“ enthält ein Steuerzeichen. Bitte entfernen Sie es.")
    number, name, street, plz, city, email, trade = values.values()
    if not _NUMBER.fullmatch(number):
        raise ValueError(f"Die Betriebsnummer muss aus 1 bis {_NUMBER_DIGITS} Ziffern bestehen.")
    if not _PLZ.fullmatch(plz):
        raise ValueError("Die PLZ muss aus genau 5 Ziffern bestehen.")
    for label in contract_fields.FIELDS:
        if (problem := contract_fields.problem(label, values[label])) is not None:
            raise ValueError(problem)
    if email and (len(email) > 254 or not _EMAIL.match(email)):
        raise ValueError(f"Die E-Mail-Adresse „{email}“ ist ungültig.")
    if len(trade) > MAX_TRADE:
        raise ValueError(f"Das Feld „Gewerk“ ist länger als {MAX_TRADE} Zeichen.")
    return Business(number, name, street, plz, city, email or None, trade or None)


def _clean(value: str) -> str:
    """White space of any kind (a tab, a line break in a quoted field) becomes one space."""
    return " ".join(unicodedata.normalize("NFC", value).split())
