from datetime import UTC, datetime, timedelta

from services.pins import limits, throttle
from services.pins.limits import RequestLimits
from services.pins.throttle import Failures, LinkLimits

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
DEFAULTS = RequestLimits()


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def test_a_first_letter_may_always_be_asked_for():
    assert limits.refusal([], [], NOW, DEFAULTS) is None


def test_one_letter_per_business_a_week():
    refusal = limits.refusal([ago(days=3)], [], NOW, DEFAULTS)
    assert refusal.who == "business" and refusal.next_allowed == ago(days=3) + timedelta(days=7)
    assert refusal.last_requested == ago(days=3)
    assert limits.refusal([ago(days=7, seconds=1)], [], NOW, DEFAULTS) is None


def test_two_letters_per_business_in_thirty_days():
    refusal = limits.refusal([ago(days=8), ago(days=20)], [], NOW, DEFAULTS)
    assert refusal.who == "business" and refusal.next_allowed == ago(days=20) + timedelta(days=30)


def test_three_letters_per_member_in_thirty_days_over_all_businesses():
    mine = [ago(days=1), ago(days=9), ago(days=29)]
    refusal = limits.refusal([], mine, NOW, DEFAULTS)
    assert refusal.who == "member" and refusal.next_allowed == ago(days=29) + timedelta(days=30)
    assert limits.refusal([], mine[:2], NOW, DEFAULTS) is None


def test_at_most_26_letters_a_year_reach_a_business_on_request():
    times, now = [], NOW
    for _ in range(400):
        if limits.refusal(sorted(times, reverse=True), [], now, DEFAULTS) is None:
            times.append(now)
        now += timedelta(days=1)
        if now - NOW >= timedelta(days=365):
            break
    assert len(times) <= 26


LIMITS = LinkLimits()


def failures(member=(), client=(), business=0) -> Failures:
    return Failures(list(member), list(client), business)


def test_five_failures_an_hour_per_member():
    mine = [(ago(minutes=m), "1") for m in (1, 10, 20, 30, 40)]
    assert throttle.wait(failures(mine[:4]), "1", NOW, LIMITS) is None
    assert throttle.wait(failures(mine), "1", NOW, LIMITS) == timedelta(minutes=20)


def test_twenty_failures_a_day_per_member():
    mine = [(ago(hours=h + 1), str(h)) for h in range(20)]
    assert throttle.wait(failures(mine), "99", NOW, LIMITS) == timedelta(hours=4)


def test_twenty_an_hour_and_a_hundred_a_day_per_address():
    assert throttle.wait(failures(client=[ago(minutes=2)] * 20), "1", NOW, LIMITS) == timedelta(minutes=58)
    day = [ago(hours=2)] * 100
    assert throttle.wait(failures(client=day), "1", NOW, LIMITS) == timedelta(hours=22)


def test_a_business_under_attack_never_refuses_a_members_first_attempt_of_the_day():
    busy = failures(business=10_000)
    assert throttle.under_attack(busy, LIMITS)
    assert throttle.wait(busy, "1", NOW, LIMITS) is None
    failed_here = failures([(ago(hours=3), "1")], business=10_000)
    assert throttle.wait(failed_here, "1", NOW, LIMITS) == timedelta(hours=21)
    assert throttle.wait(failures([(ago(hours=3), "1")], business=10), "1", NOW, LIMITS) is None


def test_guessing_is_hopeless_within_the_limits():
    valid_at_once = 4
    per_account_year = LIMITS.member_day * 365
    per_address_year = LIMITS.client_day * 365
    assert per_account_year * valid_at_once / 32**8 < 1e-7
    assert per_address_year * valid_at_once / 32**8 < 1e-6
    assert (LIMITS.business_day + 1000) * 365 * valid_at_once / 32**8 < 1e-5
