"""The second factor's pure rules: which TOTP step a code belongs to (once only), recovery codes
as typed, the throttle on wrong codes, and the role a session has."""

from datetime import UTC, datetime, timedelta

import pyotp

from services.accounts import otp

NOW = datetime(2026, 11, 29, 10, 0, 15, tzinfo=UTC)


def test_a_code_of_the_current_or_previous_step_is_accepted_once() -> None:
    secret = otp.new_secret()
    totp, step = pyotp.TOTP(secret), otp.step_of(NOW)
    assert otp.matching_step(secret, totp.at(NOW), NOW, 0) == step
    assert otp.matching_step(secret, totp.at(NOW - timedelta(seconds=30)), NOW, 0) == step - 1
    # replay: the step is used
    assert otp.matching_step(secret, totp.at(NOW), NOW, step) is None
    # the previous step's code after the current one was used: older, refused
    assert otp.matching_step(secret, totp.at(NOW - timedelta(seconds=30)), NOW, step) is None
    # two steps back: too old
    assert otp.matching_step(secret, totp.at(NOW - timedelta(seconds=60)), NOW, 0) is None
    assert otp.matching_step(secret, "12345", NOW, 0) is None


def test_recovery_codes_are_ten_distinct_and_read_as_typed() -> None:
    codes = otp.new_recovery_codes()
    assert len(codes) == 10 == len(set(codes))
    code = codes[0]
    assert otp.normalize_recovery(code.lower().replace("-", " ")) == otp.normalize_recovery(code)
    assert not otp.is_totp_format(code)


def test_five_wrong_codes_in_15_minutes_wait_until_the_oldest_leaves_the_window() -> None:
    failures = [NOW - timedelta(minutes=m) for m in (1, 2, 3, 4)]
    assert otp.wait(failures, NOW) is None
    failures.append(NOW - timedelta(minutes=10))
    assert otp.wait(failures, NOW) == timedelta(minutes=5)
    assert otp.wait(failures, NOW + timedelta(minutes=5)) is None


def test_the_session_role() -> None:
    assert otp.session_role("member", NOW) == "member"
    assert otp.session_role("staff", None) == "staff_pending"
    assert otp.session_role("staff", NOW) == "staff"
