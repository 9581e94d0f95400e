from datetime import UTC, datetime, timedelta

import pytest

from services.accounts import policy, throttle

PERSON = {"email": "erika.mustermann@example.de", "first_name": "Erika", "last_name": "Mustermann"}
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("kurz-123", "mindestens 12"),
        ("x" * 129, "höchstens 128"),
        ("abababababab", "Wiederholungen"),
        ("erika.mustermann@example.de", "E-Mail-Adresse oder Ihr Name"),
        ("ERIKA.MUSTERMANN", "E-Mail-Adresse oder Ihr Name"),
        ("Erika Mustermann", "E-Mail-Adresse oder Ihr Name"),
        ("iloveyou12345", "zu bekannt"),
        ("Password1234", "zu bekannt"),
        ("PASSWORD1234", "zu bekannt"),
    ],
)
def test_refused_passwords_say_why(password: str, says: str) -> None:
    assert says in policy.problem(password, **PERSON)


@pytest.mark.parametrize("password", ["Dachrinne im Herbst reinigen", "Zwölf Äpfel für Hüttenwirt", "a" * 3 + "bcd" + "x" * 122])
def test_long_uncommon_passwords_pass_without_composition_rules(password: str) -> None:
    assert policy.problem(password, **PERSON) is None


def test_surrounding_spaces_are_not_part_of_a_password() -> None:
    assert policy.normalize("  Dachrinne im Herbst \t") == "Dachrinne im Herbst"


def ago(*seconds: int) -> list[datetime]:
    return [NOW - timedelta(seconds=s) for s in seconds]


def test_four_failures_do_not_throttle() -> None:
    assert throttle.wait(ago(1, 2, 3, 4), [], NOW) is None


def test_the_fifth_failure_in_five_minutes_throttles_until_the_oldest_ages_out() -> None:
    assert throttle.wait(ago(10, 20, 30, 40, 100), [], NOW) == timedelta(seconds=200)


def test_old_failures_release_the_account() -> None:
    assert throttle.wait(ago(301, 302, 303, 304, 305), [], NOW) is None


def test_ten_failures_a_minute_from_one_address_throttle_it() -> None:
    assert throttle.wait([], ago(*range(1, 11)), NOW) == timedelta(seconds=50)
    assert throttle.wait([], ago(*range(1, 10)), NOW) is None


def test_an_hour_of_guessing_stays_below_asvs_limit() -> None:
    """Guess as fast as allowed for an hour: fewer than 100 attempts (ASVS 2.2.1)."""
    failures: list[datetime] = []
    moment = NOW
    end = NOW + timedelta(hours=1)
    while moment < end:
        wait = throttle.wait(sorted(failures, reverse=True), [], moment)
        if wait is None:
            failures.append(moment)
            moment += timedelta(seconds=1)
        else:
            moment += wait
    assert 55 <= len(failures) <= 65 < 100
