import json
from datetime import timedelta
from uuid import uuid4

import pytest

from runtime import german
from services.notifications import domain
from tests.unit.notifications.sample import NOW


def test_retry_delay_doubles_from_30_seconds_and_stops_at_an_hour():
    delays = [domain.retry_delay(n) for n in range(1, 12)]
    assert delays[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert delays[-1] == timedelta(hours=1)
    assert all(a <= b for a, b in zip(delays, delays[1:], strict=False))
    assert max(delays) == timedelta(hours=1)


def test_a_failure_before_the_limit_is_retried_later():
    decision = domain.after_failure(3, NOW)
    assert decision == domain.Retry(NOW + timedelta(minutes=2))


def test_the_last_allowed_attempt_abandons_the_mail():
    assert isinstance(domain.after_failure(domain.MAX_ATTEMPTS - 1, NOW), domain.Retry)
    assert domain.after_failure(domain.MAX_ATTEMPTS, NOW) == domain.Abandon()


def test_a_permanent_failure_abandons_at_once():
    assert domain.after_failure(1, NOW, permanent=True) == domain.Abandon()


def test_lease_lies_in_the_future():
    assert domain.lease_until(NOW) > NOW


def test_message_id_is_the_same_for_every_resend():
    mail_id = uuid4()
    assert domain.message_id(mail_id) == domain.message_id(mail_id) == f"<{mail_id}@kundenportal>"


@pytest.mark.parametrize(
    ("name", "kind", "sealed"),
    [
        ("registered", domain.REGISTRATION_CONFIRMATION, {"confirmation_link"}),
        ("repeated", domain.ALREADY_REGISTERED, set()),
        ("confirmed", domain.INITIAL_PASSWORD, {"initial_password"}),
        ("reset", domain.PASSWORD_RESET, {"reset_link"}),
        ("changed", domain.PASSWORD_CHANGED, set()),
        ("changed_by_reset", domain.PASSWORD_CHANGED, set()),
    ],
)
def test_each_event_makes_its_mail_with_the_secret_still_sealed(events, name, kind, sealed):
    event = events[name]
    [mail] = domain.mails_for(event)
    assert (mail.kind, mail.recipient, mail.source_event_id) == (kind, event.email, event.event_id)
    assert set(mail.sealed) == sealed
    stored = json.dumps(mail.context) + json.dumps(mail.sealed)
    for secret in events["secrets"].values():
        assert secret not in stored
    assert "token=" not in stored
    assert mail.context["first_name"] == "Erika"


def test_times_are_shown_in_german_local_time():
    # 13:05 UTC on 3 March is 14:05 in Wiesbaden (CET); in July it is CEST.
    assert german.german_datetime(NOW) == "03.03.2025, 14:05 Uhr"
    assert german.german_datetime("2025-07-01T10:00:00+00:00") == "01.07.2025, 12:00 Uhr"
    assert german.german_date(NOW.replace(tzinfo=None)) == "03.03.2025"


def test_the_password_notice_keeps_when_and_how():
    from contracts import UserPasswordChangedV1
    from tests.unit.notifications.sample import person

    event = UserPasswordChangedV1(**person(), changed_at=NOW, how="reset")
    [mail] = domain.mails_for(event)
    assert mail.context["changed_at"] == NOW.isoformat()
    assert mail.context["how"] == "reset"
    assert domain.SUBJECTS[domain.PASSWORD_CHANGED] == "Ihr Passwort wurde geändert"
    assert domain.password_route("changed") == "über „Passwort ändern“"
    assert domain.password_route("reset") == "über „Passwort vergessen“"
    with pytest.raises(KeyError):
        domain.password_route("guessed")
    assert german.german_time(NOW) == "14:05 Uhr"
