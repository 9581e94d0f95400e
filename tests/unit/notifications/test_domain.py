import json
from uuid import uuid4

import pytest

from runtime import german
from services.notifications import domain
from tests.unit.notifications.sample import NOW


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
