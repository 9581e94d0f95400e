from datetime import date
from uuid import uuid4

from contracts import PinRequestedV1, PostalAddress
from services.pins import csvfile

HEADER = "Betriebsnummer;Name;Straße;PLZ;Ort;E-Mail;Gewerk"


def parse(*lines: str, bom: bool = False) -> csvfile.Parsed:
    text = "\n".join(lines) + "\n"
    return csvfile.parse(("\ufeff" if bom else "").encode() + text.encode())


def test_a_good_file_with_a_bom_and_empty_optional_fields():
    parsed = parse(
        HEADER,
        "0012345;Malerei Müller GmbH;Hauptstraße 1;65183;Wiesbaden;info@maler-mueller.de;Maler und Lackierer",
        "",
        '2;"Tischlerei; Holz & Form";  Am Markt  3 ;55116;Mainz;;',
        bom=True,
    )
    assert parsed.problems == []
    first, second = parsed.businesses
    assert first.betriebsnummer == "0012345" and first.street == "Hauptstraße 1"
    assert second.name == "Tischlerei; Holz & Form" and second.street == "Am Markt 3"
    assert second.email is None and second.trade is None


def test_a_wrong_header_stops_at_line_one():
    parsed = parse("Betriebsnummer,Name,Straße,PLZ,Ort,E-Mail,Gewerk", "1;A;B;12345;C;;")
    assert parsed.problems == [f"Zeile 1: Die Kopfzeile muss genau „{HEADER}“ lauten."]


def test_every_bad_row_is_reported_with_its_line_number():
    parsed = parse(
        HEADER,
        "1;Gut;Weg 1;12345;Ort;;",
        "12a;Name;Weg 1;12345;Ort;;",
        "",
        "3;;Weg 1;12345;Ort;;",
        "4;Name;Weg 1;1234;Ort;;",
        "5;Name;Weg 1;12345;Ort;kein-at.de;",
        "1;Doppelt;Weg 1;12345;Ort;;",
        "6;Name;Weg 1;12345",
        f"7;{'x' * 201};Weg 1;12345;Ort;;",
        "8;Name;Weg 1;12345;;;",
    )
    assert parsed.problems == [
        "Zeile 3: Die Betriebsnummer muss aus 1 bis 20 Ziffern bestehen.",
        "Zeile 5: Das Feld „Name“ ist leer.",
        "Zeile 6: Die PLZ muss aus genau 5 Ziffern bestehen.",
        "Zeile 7: Die E-Mail-Adresse „kein-at.de“ ist ungültig.",
        "Zeile 8: Die Betriebsnummer 1 steht bereits in Zeile 2.",
        "Zeile 9: 7 Felder erwartet, 4 gefunden (Trennzeichen ist das Semikolon).",
        "Zeile 10: Das Feld „Name“ ist länger als 200 Zeichen.",
        "Zeile 11: Das Feld „Ort“ ist leer.",
    ]


def test_line_numbers_count_lines_inside_quoted_fields():
    parsed = parse(HEADER, '1;"Zwei\nZeilen";Weg 1;12345;Ort;;', "x;A;B;12345;C;;")
    assert parsed.problems == ["Zeile 4: Die Betriebsnummer muss aus 1 bis 20 Ziffern bestehen."]


def test_a_file_that_is_not_utf8_names_the_line():
    data = f"{HEADER}\n".encode() + "1;Müller;Weg 1;12345;Ort;;\n".encode("latin-1")
    assert csvfile.parse(data).problems == [
        "Zeile 2: Die Datei ist nicht UTF-8-kodiert. Bitte speichern Sie sie als „CSV UTF-8“."
    ]


def test_an_empty_file_or_one_without_businesses_is_refused():
    assert csvfile.parse(b"").problems == ["Zeile 1: Die Datei ist leer; es fehlt die Kopfzeile."]
    assert parse(HEADER).problems == ["Zeile 2: Die Datei enthält keine Betriebe."]


def test_windows_line_ends_are_fine():
    data = f"{HEADER}\r\n1;A;B;12345;C;a@b.de;\r\n".encode()
    parsed = csvfile.parse(data)
    assert parsed.problems == [] and parsed.businesses[0].email == "a@b.de"


def test_every_field_a_letter_carries_must_fit_the_pin_requested_contract():
    address = PinRequestedV1.model_fields["address"].annotation.model_fields
    city_max, street_max = address["city"].metadata[-1].max_length, address["street"].metadata[-1].max_length
    parsed = parse(
        HEADER,
        f"1;Name;Weg 1;12345;{'W' * city_max};;",
        f"2;Name;Weg 1;12345;{'W' * (city_max + 1)};;",
        f"3;Name;{'S' * (street_max + 1)};12345;Ort;;",
        f"{'4' * 21};Name;Weg 1;12345;Ort;;",
    )
    assert parsed.problems == [
        f"Zeile 3: Das Feld „Ort“ ist länger als {city_max} Zeichen.",
        f"Zeile 4: Das Feld „Straße“ ist länger als {street_max} Zeichen.",
        "Zeile 5: Die Betriebsnummer muss aus 1 bis 20 Ziffern bestehen.",
    ]


def test_every_register_row_makes_a_valid_letter():
    [business] = parse(HEADER, f"0042;{'N' * 200};{'S' * 200};12345;{'O' * 100};;").businesses
    PinRequestedV1(
        request_id=uuid4(),
        reason="annual_notice",
        betriebsnummer=business.betriebsnummer,
        business_name=business.name,
        pin="x" * 40,
        valid_until=date(2030, 1, 1),
        address=PostalAddress(street=business.street, postal_code=business.postal_code, city=business.city),
    )


def test_control_characters_are_refused_and_white_space_is_one_space():
    parsed = parse(
        HEADER,
        "1;Malerei\x00Müller;Weg 1;12345;Ort;;",
        "2;Name;Weg\x1b[31m 1;12345;Ort;;",
        "3;Name;Weg 1;12345;Ort;;Maler\x7f",
        "4;Name\tund\x0bSohn;Weg 1;12345;Ort;;",
    )
    assert parsed.problems == [
        "Zeile 2: Das Feld „Name“ enthält ein Steuerzeichen. Bitte entfernen Sie es.",
        "Zeile 3: Das Feld „Straße“ enthält ein Steuerzeichen. Bitte entfernen Sie es.",
        "Zeile 4: Das Feld „Gewerk“ enthält ein Steuerzeichen. Bitte entfernen Sie es.",
    ]
    assert [b.name for b in parsed.businesses] == ["Name und Sohn"]
