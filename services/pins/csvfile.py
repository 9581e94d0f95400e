"""Reading the business register file, without I/O: every row checked, every problem by line.

The file is UTF-8 (a BOM is accepted), `;`-separated, with the header
`Betriebsnummer;Name;Straße;PLZ;Ort;E-Mail;Gewerk`. A Betriebsnummer is 1 to 20 ASCII digits,
kept as text (leading zeros matter; 20 is what the events allow). Fields are trimmed; empty
lines are skipped; E-Mail and Gewerk may be empty.
"""

import csv
import io
import re
import unicodedata
from dataclasses import dataclass

HEADER = ["Betriebsnummer", "Name", "Straße", "PLZ", "Ort", "E-Mail", "Gewerk"]
MAX_TEXT = 200
_PLZ = re.compile(r"^[0-9]{5}$")
_NUMBER = re.compile(r"^[0-9]{1,20}$")
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
        return Parsed([], [f"Zeile {line}: Die Datei ist nicht UTF-8-kodiert. Bitte speichern Sie sie als „CSV UTF-8“."])
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
    number, name, street, plz, city, email, trade = (_clean(f) for f in fields)
    if not _NUMBER.match(number):
        raise ValueError("Die Betriebsnummer muss aus 1 bis 20 Ziffern bestehen.")
    for label, value in (("Name", name), ("Straße", street), ("Ort", city)):
        if not value:
            raise ValueError(f"Das Feld „{label}“ ist leer.")
        if len(value) > MAX_TEXT:
            raise ValueError(f"Das Feld „{label}“ ist länger als {MAX_TEXT} Zeichen.")
    if not _PLZ.match(plz):
        raise ValueError("Die PLZ muss aus genau 5 Ziffern bestehen.")
    if email and (len(email) > 254 or not _EMAIL.match(email)):
        raise ValueError(f"Die E-Mail-Adresse „{email}“ ist ungültig.")
    if len(trade) > MAX_TEXT:
        raise ValueError(f"Das Feld „Gewerk“ ist länger als {MAX_TEXT} Zeichen.")
    return Business(number, name, street, plz, city, email or None, trade or None)


def _clean(value: str) -> str:
    return " ".join(unicodedata.normalize("NFC", value).split())
