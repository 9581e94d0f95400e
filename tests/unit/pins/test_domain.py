from datetime import UTC, datetime, timedelta

import pytest

from services.pins import domain

NOW = datetime(2025, 3, 10, 9, 30, tzinfo=UTC)


def test_the_alphabet_has_32_symbols_and_no_look_alikes():
    assert len(domain.PIN_ALPHABET) == len(set(domain.PIN_ALPHABET)) == 32
    assert not set("IO01l") & set(domain.PIN_ALPHABET)
    assert domain.PIN_SPACE == 32**8 == 2**40


def test_a_new_pin_uses_the_alphabet_and_prints_in_two_groups():
    pins = {domain.new_pin() for _ in range(200)}
    assert len(pins) == 200
    for pin in pins:
        assert len(pin) == 8 and set(pin) <= set(domain.PIN_ALPHABET)
        printed = domain.format_pin(pin)
        assert printed[4] == "-" and printed.replace("-", "") == pin


@pytest.mark.parametrize("typed", ["ABCD-EFGH", "abcd-efgh", "ABCDEFGH", " abcd efgh ", "AbCd – eFgH", "AB CD-EF GH"])
def test_a_pin_is_accepted_with_or_without_dash_and_spaces_in_any_case(typed):
    assert domain.normalize_pin(typed) == "ABCDEFGH"


@pytest.mark.parametrize(
    "typed, message",
    [
        ("", "Bitte geben Sie die PIN"),
        ("ABCD-EFG", "8 Buchstaben"),
        ("ABCD-EFGHJ", "8 Buchstaben"),
        ("ABCD-EFG!", "8 Buchstaben"),
        ("ÄBCD-EFGH", "8 Buchstaben"),
        ("ABCD-EFG0", "kein I, O, 0 oder 1"),
        ("ABCD-EFGI", "kein I, O, 0 oder 1"),
    ],
)
def test_a_malformed_pin_is_explained(typed, message):
    with pytest.raises(domain.Invalid, match=message):
        domain.normalize_pin(typed)


def test_betriebsnummer_is_digits_with_spaces_removed():
    assert domain.normalize_betriebsnummer(" 0012 345 ") == "0012345"
    for bad in ("", "12a4", "1" * 21, "-12"):
        with pytest.raises(domain.Invalid):
            domain.normalize_betriebsnummer(bad)


def test_the_pin_hash_is_keyed_and_bound_to_the_business():
    key = b"k" * 32
    assert domain.pin_hash(key, "1", "ABCDEFGH") == domain.pin_hash(key, "1", "ABCDEFGH")
    assert domain.pin_hash(key, "1", "ABCDEFGH") != domain.pin_hash(key, "2", "ABCDEFGH")
    assert domain.pin_hash(key, "1", "ABCDEFGH") != domain.pin_hash(b"x" * 32, "1", "ABCDEFGH")


def test_a_letter_is_valid_through_the_whole_printed_day():
    until = domain.valid_until(NOW, 30)
    assert domain.last_day(until).isoformat() == "2025-04-09"
    assert until.astimezone(domain.BERLIN).hour == 0 and until > NOW + timedelta(days=30)


def test_letter_states():
    until = domain.valid_until(NOW, 30)
    letter = domain.Letter(NOW, until, None, None)
    assert domain.letter_state(letter, NOW) == "requested"
    assert domain.letter_state(letter, until) == "expired"
    assert domain.letter_state(domain.Letter(NOW, until, NOW, None), NOW) == "used"
    assert domain.letter_state(domain.Letter(NOW, until, None, NOW), NOW) == "superseded"
    assert domain.letter_state(domain.Letter(NOW, until, None, None, handed_over=True), NOW) == "handed_over"
    assert domain.letter_state(domain.Letter(NOW, until, NOW, None, handed_over=True), NOW) == "used"
    assert set(domain.STATE_LABELS) == {"requested", "handed_over", "used", "expired", "superseded"}


def test_a_wait_is_shown_rounded_up_to_the_minute():
    assert domain.local_time(datetime(2025, 3, 10, 13, 33, 0, tzinfo=UTC)) == "10.03.2025 um 14:33 Uhr"
    assert domain.local_time(datetime(2025, 3, 10, 13, 33, 0, 1, tzinfo=UTC)) == "10.03.2025 um 14:34 Uhr"
