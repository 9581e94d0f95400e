from contracts import PostalAddress
from services.pins import contract_fields

STORED = {
    "betriebsnummer": "4711",
    "name": "Malerei Müller GmbH",
    "street": "Hauptstraße 1",
    "postal_code": "65183",
    "city": "Wiesbaden",
}


def test_the_limits_are_the_contracts_own():
    city = PostalAddress.model_json_schema()["properties"]["city"]
    assert contract_fields.problem("Ort", "W" * city["maxLength"]) is None
    assert contract_fields.problem("Ort", "W" * (city["maxLength"] + 1)) == (
        f"Das Feld „Ort“ ist länger als {city['maxLength']} Zeichen."
    )
    assert contract_fields.problem("Name", "") == "Das Feld „Name“ ist leer."
    assert contract_fields.problem("PLZ", "123") == "Das Feld „PLZ“ ist kürzer als 4 Zeichen."
    assert contract_fields.max_length("Betriebsnummer") == 20


def test_a_stored_business_is_checked_field_by_field():
    assert contract_fields.business_problems(STORED) == []
    bad = {**STORED, "city": "W" * 150, "street": ""}
    assert contract_fields.business_problems(bad) == [
        "Das Feld „Straße“ ist leer.",
        "Das Feld „Ort“ ist länger als 100 Zeichen.",
    ]
