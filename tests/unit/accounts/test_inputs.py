"""Every text accounts takes refuses control characters with a German sentence, before any use."""

import json
from datetime import date

import pytest
from pydantic import ValidationError

from runtime.errors import german_fields
from services.accounts import forms

PERSON = {"first_name": "Anna", "last_name": "Berg", "email": "anna@example.de", "birth_date": "1980-02-03"}
TOKEN = "t" * 43
PASSWORD = "Dachrinne im Herbst reinigen"


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        (forms.RegistrationIn, {**PERSON, "first_name": "An\x00na"}, "first_name"),
        (forms.RegistrationIn, {**PERSON, "email": "anna\n@example.de"}, "email"),
        (forms.RegistrationIn, {**PERSON, "birth_date": "1980-02-03\x00"}, "birth_date"),
        (forms.LoginIn, {"email": "anna@example.de", "password": f"{PASSWORD}\x00"}, "password"),
        (forms.TokenIn, {"token": TOKEN[:-1] + "\x00"}, "token"),
        (forms.ChangeIn, {"current_password": PASSWORD, "new_password": f"Neu\x07{PASSWORD}"}, "new_password"),
        (forms.ChangeIn, {"current_password": f"\x1b{PASSWORD}", "new_password": PASSWORD}, "current_password"),
        (forms.ResetIn, {"token": TOKEN, "new_password": f"{PASSWORD}\x85"}, "new_password"),
        (forms.EmailIn, {"email": "anna@example.de\x00"}, "email"),
    ],
)
def test_a_control_character_is_named_in_german_at_its_field(model, body, field) -> None:
    with pytest.raises(ValidationError) as error:
        model.model_validate_json(json.dumps(body), context={"today": date(2026, 11, 26)})
    message = german_fields(error.value)[field]
    assert message.startswith("Bitte") or "Steuerzeichen" in message


def test_clean_inputs_still_pass() -> None:
    form = forms.RegistrationIn.model_validate_json(json.dumps(PERSON), context={"today": date(2026, 11, 26)})
    assert (form.first_name, form.email) == ("Anna", "anna@example.de")
    login = forms.LoginIn.model_validate_json(json.dumps({"email": "anna@example.de", "password": f" {PASSWORD} "}))
    assert login.password == f" {PASSWORD} "  # trimmed where it is checked (policy.normalize), not here
