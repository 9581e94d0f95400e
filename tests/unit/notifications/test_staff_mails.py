"""The mails of unlinking and of staff changes, as rules and as rendered German text: who gets
which, worded by who did it, and what the staff view of the queue says."""

from uuid import uuid4

import pytest

from services.notifications import delivery, domain, mail_log, news, schedule
from tests.support.mail import extract_password, extract_token_link
from tests.unit.notifications.sample import NOW


def queued(mail: domain.NewMail) -> domain.QueuedMail:
    return domain.QueuedMail(uuid4(), mail.kind, mail.recipient, mail.context, mail.sealed, 1, NOW)


def render(composer, mail: domain.NewMail):
    return composer.compose(queued(mail), NOW)


def text(message) -> str:
    return message.get_body(("plain",)).get_content()


def html(message) -> str:
    return message.get_body(("html",)).get_content()


WORDING = {
    "member": "Sie haben die Verknüpfung Ihres Kontos",
    "staff": "die Handwerkskammer hat die Verknüpfung",
    "register_import": "nicht mehr im Verzeichnis der Handwerkskammer eingetragen",
}


@pytest.mark.parametrize("by", ["member", "staff", "register_import"])
def test_an_ended_link_tells_the_member_and_the_business_worded_by_who_ended_it(composer, events, by):
    member = events["member"]
    event = events["pin_unlinked"].model_copy(update={"unlinked_by": by})
    to_member, to_business = domain.mails_for(event, member)
    assert (to_member.kind, to_member.recipient) == (news.MEMBER_UNLINKED, member.email)
    assert (to_business.kind, to_business.recipient) == (news.BUSINESS_UNLINKED, "info@mueller-elektro.de")
    mine = render(composer, to_member)
    assert mine["Subject"] == "Die Verknüpfung mit Ihrem Betrieb wurde gelöst"
    assert WORDING[by] in text(mine) and "Müller Elektro GmbH" in text(mine) and "1234567" in text(mine)
    assert "Guten Tag Erika Müller" in text(mine) and "0611 136-444" in text(mine)
    others = {w for b, w in WORDING.items() if b != by}
    assert not any(w in text(mine) for w in others)
    theirs = render(composer, to_business)
    assert "Erika Müller" in text(theirs) and "1234567" in text(theirs)
    assert member.email not in text(theirs) + html(theirs)  # the business is not told the address
    assert member.email not in str(to_business.context)
    assert to_business.context["member_user_id"] == str(member.user_id)  # so erasing the member finds it
    assert "kundenportal@hwk-wiesbaden.de" in text(theirs)


def test_an_ended_link_without_a_known_member_or_business_address(events):
    event = events["pin_unlinked"]
    assert [m.kind for m in domain.mails_for(event, None)] == [news.BUSINESS_UNLINKED]
    assert domain.mails_for(event.model_copy(update={"business_email": None}), None) == []
    assert domain.recipient_needed(event) == event.user_id


@pytest.mark.parametrize(
    ("change", "kind", "words"),
    [
        ("throttle_lifted", news.THROTTLE_LIFTED, "03.03.2025 um 14:05 Uhr aufgehoben"),
        ("deactivated", news.ACCOUNT_DEACTIVATED, "warum Ihr Konto gesperrt wurde"),
        ("reactivated", news.ACCOUNT_REACTIVATED, "wieder freigeschaltet"),
    ],
)
def test_a_change_by_staff_is_told_to_the_member(composer, events, change, kind, words):
    member = events["member"]
    event = events["changed_by_staff"].model_copy(update={"change": change})
    [mail] = domain.mails_for(event, member)
    assert (mail.kind, mail.recipient) == (kind, member.email)
    message = render(composer, mail)
    assert message["Subject"] == news.SUBJECTS[kind]
    assert words in text(message) and "Guten Tag Erika Müller" in text(message)
    assert "kundenportal@hwk-wiesbaden.de" in text(message)
    assert domain.mails_for(event, None) == []  # nobody known: no mail, and no error


def test_the_staff_setup_mail_carries_its_link_once_and_tells_of_the_second_factor(composer, events):
    event = events["staff_setup"]
    [mail] = domain.mails_for(event)
    assert (mail.kind, mail.recipient, mail.expires_at) == (news.STAFF_SETUP, event.email, event.link_expires_at)
    assert events["secrets"]["setup"] not in str(mail.context)  # sealed, not in the context
    message = render(composer, mail)
    assert message["Subject"] == "Ihr Mitarbeiterkonto im Kundenportal"
    assert extract_token_link(text(message)) == events["secrets"]["setup"]
    assert "Authenticator-App" in text(message) and "Mitarbeiterkonto" in text(message)
    assert "gültig" in text(message) and "Authenticator-App" in html(message)
    assert schedule.urgency(news.STAFF_SETUP) == schedule.urgency(domain.REGISTRATION_CONFIRMATION)


def test_a_reset_stays_a_reset(events):
    [mail] = domain.mails_for(events["reset"])
    assert mail.kind == domain.PASSWORD_RESET


def test_a_password_reissued_by_staff_says_so_and_keeps_its_password_line(composer, events):
    [mail] = domain.mails_for(events["reissued"])
    assert mail.kind == domain.INITIAL_PASSWORD
    message = render(composer, mail)
    assert message["Subject"] == "Ihr neues Passwort für das Kundenportal"
    assert "auf Ihre Anfrage ein neues" in text(message) and "auf Ihre Anfrage ein neues" in html(message)
    assert extract_password(text(message)) == events["secrets"]["password"]
    first = render(composer, domain.mails_for(events["confirmed"])[0])
    assert "auf Ihre Anfrage" not in text(first) and first["Subject"] == "Ihr Passwort für das Kundenportal"


def test_a_letter_staff_requested_mails_nobody(events):
    event = events["pin_staff_request"]
    assert event.requested_by_user_id is None
    assert domain.recipient_needed(event) is None
    assert domain.mails_for(event, events["member"]) == []


def test_an_account_erased_by_staff_gets_a_last_mail_one_erased_by_its_member_none(composer, events):
    member = events["member"]
    event = events["deleted_by_staff"]
    [mail] = news.erased_by_staff(event, member)
    assert (mail.kind, mail.recipient) == (news.ACCOUNT_ERASED, member.email)
    assert domain.forgotten_when_settled(mail.kind) and not domain.forgotten_when_settled(domain.MEMBER_LINKED)
    message = render(composer, mail)
    assert message["Subject"] == "Ihr Konto wurde von der Handwerkskammer gelöscht"
    assert "kundenportal@hwk-wiesbaden.de" in text(message) and "0611 136-444" in text(message)
    assert news.erased_by_staff(event.model_copy(update={"deleted_by": "member"}), member) == []
    assert news.erased_by_staff(event, None) == []


def test_every_kind_has_a_german_label_and_every_state_one():
    assert set(mail_log.KIND_LABELS) == set(domain.SUBJECTS)
    rows = [
        {"state": "sent", "attempts": 1},
        {"state": "queued", "attempts": 0},
        {"state": "queued", "attempts": 2},
        {"state": "processing", "attempts": 1},
        {"state": "processing", "attempts": 3},
        {"state": "failed", "attempts": 1},
        {"state": "expired", "attempts": 4},
    ]
    base = {"id": uuid4(), "kind": domain.INITIAL_PASSWORD, "last_error": None, "created_at": NOW}
    seen = mail_log.seen([{**base, **r, "sent_at": None, "next_attempt_at": NOW} for r in rows]).mails
    assert [(m.state, m.state_label) for m in seen] == [
        ("sent", "Versandt"),
        ("queued", "In Warteschlange"),
        ("retrying", "Wird erneut versucht"),
        ("queued", "In Warteschlange"),
        ("retrying", "Wird erneut versucht"),
        ("failed", "Fehlgeschlagen"),
        ("expired", "Abgelaufen"),
    ]
    assert seen[0].kind_label == "Vorläufiges Passwort" and seen[0].next_attempt_at is None
    assert seen[2].next_attempt_at == NOW


async def test_a_refusal_that_quotes_the_mail_back_is_stored_without_its_secrets(composer, events):
    [mail] = domain.mails_for(events["reset"])
    link = events["secrets"]["reset"]

    class Quoting:
        async def send(self, message):
            raise delivery.PermanentMailError(f"554 rejected content: {link} and {link.split('token=')[1]}")

    failed = await delivery.deliver(queued(mail), composer, Quoting(), NOW)
    assert failed is not None and failed.permanent and failed.error.startswith("PermanentMailError: 554")
    assert link.split("token=")[1] not in failed.error and link not in failed.error
