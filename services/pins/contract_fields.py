"""The register's fields as `pin.requested.v1` carries them to the print shop, without I/O.

Their limits are read from the contract's models (contracts/pin_requested_v1.py, PostalAddress in
contracts/base.py), never repeated here: what the import lets in, every letter can carry, and a
change of the contract changes the import with it. Problems are German, in the import's words.
"""

from collections.abc import Mapping
from typing import Annotated, Any

from annotated_types import MaxLen
from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from contracts import PinRequestedV1, PostalAddress

_EVENT, _ADDRESS = PinRequestedV1.model_fields, PostalAddress.model_fields
# The import file's column → the contract's field, and the column of `businesses` that feeds it.
FIELDS: dict[str, tuple[FieldInfo, str]] = {
    "Betriebsnummer": (_EVENT["betriebsnummer"], "betriebsnummer"),
    "Name": (_EVENT["business_name"], "name"),
    "Straße": (_ADDRESS["street"], "street"),
    "PLZ": (_ADDRESS["postal_code"], "postal_code"),
    "Ort": (_ADDRESS["city"], "city"),
}
_ADAPTERS = {label: TypeAdapter(Annotated[(field.annotation, *field.metadata)]) for label, (field, _) in FIELDS.items()}


def max_length(label: str) -> int:
    field, _ = FIELDS[label]
    return next(m.max_length for m in field.metadata if isinstance(m, MaxLen))


def problem(label: str, value: str) -> str | None:
    """Why the contract refuses `value` for this column (None: it carries it)."""
    try:
        _ADAPTERS[label].validate_python(value)
    except ValidationError as error:
        return _german(label, error.errors()[0])
    return None


def business_problems(business: Mapping[str, Any]) -> list[str]:
    """Why no letter can carry a stored business (data from before the import checked)."""
    found = (problem(label, business[column]) for label, (_, column) in FIELDS.items())
    return [p for p in found if p is not None]


def _german(label: str, error: Any) -> str:
    kind, limits = error["type"], error.get("ctx", {})
    if kind == "string_too_long":
        return f"Das Feld „{label}“ ist länger als {limits['max_length']} Zeichen."
    if kind == "string_too_short":
        if not error.get("input"):
            return f"Das Feld „{label}“ ist leer."
        return f"Das Feld „{label}“ ist kürzer als {limits['min_length']} Zeichen."
    if kind == "string_pattern_mismatch":
        return f"Das Feld „{label}“ hat nicht die vorgeschriebene Form."
    return f"Das Feld „{label}“ ist ungültig."
