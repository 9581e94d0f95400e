from datetime import date

import pytest

from runtime.crypto import UNAMBIGUOUS
from services.accounts import domain

TODAY = date(2026, 11, 26)


@pytest.mark.parametrize("name", ["Anna", "Hans-Peter", "O'Brien", "Müller-Lüdenscheidt", "Anne Marie", "Dr. Özdemir"])
def test_real_names_pass(name: str) -> None:
    assert domain.clean_name(f"  {name} ") == name


@pytest.mark.parametrize("name", ["", "   ", "H4ns", "<script>", "a" * 101, "Anna_Lena", "--"])
def test_bad_names_get_a_german_reason(name: str) -> None:
    with pytest.raises(domain.Invalid) as error:
        domain.clean_name(name)
    assert "Bitte" in str(error.value)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (" Anna@Example.DE ", "Anna@example.de"),
        ("a.b+c@mail.t-online.de", "a.b+c@mail.t-online.de"),
        ("x@müller.de", "x@müller.de"),
    ],
)
def test_email_is_trimmed_and_the_domain_lowered(raw: str, clean: str) -> None:
    assert domain.clean_email(raw) == clean


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "anna",
        "anna@",
        "@example.de",
        "anna@example",
        "an na@example.de",
        "a..b@example.de",
        "anna@-x.de",
        "anna@example.d3",
    ],
)
def test_bad_emails_are_refused(raw: str) -> None:
    with pytest.raises(domain.Invalid):
        domain.clean_email(raw)


def test_addresses_match_case_insensitively() -> None:
    assert domain.email_key(" Anna@Example.de") == domain.email_key("anna@example.DE")


@pytest.mark.parametrize("raw", ["1980-02-03", "03.02.1980", " 3.2.1980 "])
def test_birth_date_accepts_iso_and_german(raw: str) -> None:
    assert domain.parse_birth_date(raw, TODAY) == date(1980, 2, 3)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("2027-01-01", "Zukunft"),
        ("2008-11-27", "18 Jahre"),
        ("1900-01-01", "prüfen"),
        ("31.02.1980", "TT.MM.JJJJ"),
        ("gestern", "TT.MM.JJJJ"),
    ],
)
def test_implausible_birth_dates_are_refused(raw: str, reason: str) -> None:
    with pytest.raises(domain.Invalid, match=reason):
        domain.parse_birth_date(raw, TODAY)


def test_eighteenth_birthday_is_enough() -> None:
    assert domain.parse_birth_date("2008-11-26", TODAY) == date(2008, 11, 26)


def test_initial_password_has_no_look_alikes() -> None:
    passwords = {domain.new_initial_password() for _ in range(200)}
    assert len(passwords) == 200
    for password in passwords:
        assert len(password) == domain.INITIAL_PASSWORD_LENGTH
        assert set(password) <= set(UNAMBIGUOUS)
        assert not set(password) & set("lI1O0")


@pytest.mark.parametrize(
    ("state", "code"),
    [
        (domain.ConfirmationState(found=False), "token_invalid"),
        (domain.ConfirmationState(found=True, used=True), "token_used"),
        (domain.ConfirmationState(found=True, user_active=True, expired=True), "token_used"),
        (domain.ConfirmationState(found=True, expired=True), "token_expired"),
    ],
)
def test_unusable_links_say_why(state, code: str) -> None:
    status, found_code, message = domain.confirmation_problem(state)
    assert (found_code, 400 <= status < 500) == (code, True)
    assert message.endswith(".")


def test_a_fresh_link_is_fine() -> None:
    assert domain.confirmation_problem(domain.ConfirmationState(found=True)) is None


@pytest.mark.parametrize(
    "raw", ["anna\n@example.de", "anna@example\n.de", "an\x00na@example.de", "anna@exa\x7fmple.de"]
)
def test_control_characters_inside_an_address_are_refused(raw: str) -> None:
    with pytest.raises(domain.Invalid, match="E-Mail-Adresse"):
        domain.clean_email(raw)


@pytest.mark.parametrize("name", ["Anna\nLena", "Anna\x00", "Anna\tLena", "\x1bAnna"])
def test_control_characters_in_a_name_are_refused(name: str) -> None:
    with pytest.raises(domain.Invalid, match="Steuerzeichen"):
        domain.clean_name(name)
