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


@pytest.mark.parametrize(
    "password", ["Dachrinne im Herbst reinigen", "Zwölf Äpfel für Hüttenwirt", "a" * 3 + "bcd" + "x" * 122]
)
def test_long_uncommon_passwords_pass_without_composition_rules(password: str) -> None:
    assert policy.problem(password, **PERSON) is None


def test_surrounding_spaces_are_not_part_of_a_password() -> None:
    assert policy.normalize("  Dachrinne im Herbst \t") == "Dachrinne im Herbst"


def ago(*seconds: int) -> list[datetime]:
    return [NOW - timedelta(seconds=s) for s in seconds]


def untrusted(lane: list[datetime], client: list[datetime] | None = None) -> timedelta | None:
    return throttle.wait(lane, client or [], NOW, trusted=False)


def test_four_failures_do_not_throttle() -> None:
    assert untrusted(ago(1, 2, 3, 4)) is None


def test_the_fifth_failure_in_five_minutes_throttles_until_the_oldest_ages_out() -> None:
    assert untrusted(ago(10, 20, 30, 40, 100)) == timedelta(seconds=200)


def test_old_failures_release_the_account() -> None:
    assert untrusted(ago(301, 302, 303, 304, 305)) is None


def test_a_trusted_device_lane_has_the_same_account_limits() -> None:
    assert throttle.wait(ago(10, 20, 30, 40, 100), [], NOW, trusted=True) == timedelta(seconds=200)


def test_a_hundred_failures_a_day_wait_until_the_oldest_is_a_day_old() -> None:
    """NIST SP 800-63B's cap: spread out so that the five-minute window never fills."""
    lane = [NOW - timedelta(minutes=10 * i + 10) for i in range(100)]  # the oldest 1000 minutes ago
    assert untrusted(lane) == timedelta(days=1) - timedelta(minutes=1000)
    assert untrusted(lane[:99]) is None
    assert throttle.wait(lane, [], NOW, trusted=True) == timedelta(days=1) - timedelta(minutes=1000)


def test_a_busy_address_does_not_refuse_an_account_without_recent_failures() -> None:
    """Ten attempts a minute from one address (an attacker behind the members' NAT): a member
    whose account was not under attack still gets through."""
    assert untrusted([], ago(*range(1, 11))) is None
    assert untrusted(ago(3601), ago(*range(1, 11))) is None


def test_a_busy_address_refuses_an_account_with_untrusted_failures_until_one_of_them_calms() -> None:
    assert untrusted(ago(600), ago(*range(1, 11))) == timedelta(seconds=50)  # the address calms first
    assert untrusted(ago(3590), ago(*range(1, 11))) == timedelta(seconds=10)  # the failure ages out first
    assert untrusted(ago(600), ago(*range(1, 10))) is None  # nine a minute: not busy


def test_a_trusted_device_is_never_refused_for_its_address() -> None:
    assert throttle.wait(ago(600), ago(*range(1, 60)), NOW, trusted=True) is None


def test_retry_after_rounds_up_to_a_whole_second() -> None:
    assert throttle.retry_after(timedelta(seconds=49, milliseconds=10)) == "50"
    assert throttle.retry_after(timedelta(seconds=50)) == "51"


def simulate(until: timedelta, step: timedelta = timedelta(seconds=1)) -> list[datetime]:
    """Guess as fast as allowed from one untrusted browser; the failures made."""
    failures: list[datetime] = []
    moment, end = NOW, NOW + until
    while moment < end:
        wait = throttle.wait(sorted(failures, reverse=True)[: throttle.DAILY_LIMIT], [], moment, trusted=False)
        if wait is None:
            failures.append(moment)
            moment += step
        else:
            moment += wait
    return failures


def test_an_hour_of_guessing_stays_below_asvs_limit() -> None:
    """Guess as fast as allowed for an hour: fewer than 100 attempts (ASVS 2.2.1)."""
    assert 55 <= len(simulate(timedelta(hours=1))) <= 65 < 100


def test_a_day_of_guessing_stops_at_a_hundred() -> None:
    assert len(simulate(timedelta(days=1))) == 100


def test_a_busy_address_spraying_gets_one_guess_per_account_an_hour() -> None:
    """One address keeps busy (ten attempts every minute) while guessing at one account."""
    failures: list[datetime] = []
    moment = NOW
    while moment < NOW + timedelta(hours=3):
        busy = [moment - timedelta(seconds=s) for s in range(1, 11)]
        if throttle.wait(sorted(failures, reverse=True), busy, moment, trusted=False) is None:
            failures.append(moment)
        moment += timedelta(seconds=30)
    assert len(failures) == 3
