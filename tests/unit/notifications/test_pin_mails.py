"""Which mails the pin events make, and the recipients projection they rely on."""

import json
from dataclasses import replace
from datetime import date, timedelta
from uuid import uuid4

import pytest

from contracts import Event
from runtime import german
from services.notifications import domain
from tests.unit.notifications.sample import NOW

USER_EVENTS = ("registered", "repeated", "confirmed", "reset", "changed")


@pytest.mark.parametrize("name", USER_EVENTS)
def test_every_user_event_tells_who_the_user_is(events, name):
    event = events[name]
    assert domain.recipient_from(event) == domain.Recipient(
        event.user_id, event.email, "Erika", "Müller", event.occurred_at
    )
    assert domain.recipient_needed(event) is None


@pytest.mark.parametrize("name", ["pin_requested", "pin_annual", "pin_linked"])
def test_pin_events_tell_the_projection_nothing(events, name):
    assert domain.recipient_from(events[name]) is None


def test_pin_events_name_the_member_to_look_up(events):
    member = events["member"]
    assert domain.recipient_needed(events["pin_requested"]) == member.user_id
    assert domain.recipient_needed(events["pin_linked"]) == member.user_id
    assert domain.recipient_needed(events["pin_linked_quietly"]) == member.user_id
    assert domain.recipient_needed(events["pin_annual"]) is None


def test_the_member_who_asked_hears_the_letter_is_on_its_way(events):
    event, member = events["pin_requested"], events["member"]
    [mail] = domain.mails_for(event, member)
    assert (mail.kind, mail.recipient, mail.source_event_id) == (
        domain.PIN_LETTER_ON_ITS_WAY,
        member.email,
        event.event_id,
    )
    assert mail.context == {
        "first_name": "Erika",
        "last_name": "Müller",
        "betriebsnummer": "1234567",
        "business_name": "Müller Elektro GmbH",
        "street": "Bahnhofstraße 12",
        "postal_code": "65185",
        "city": "Wiesbaden",
        "country": "",
        "valid_until": "2025-04-30",
    }
    assert mail.sealed == {}


def test_the_pin_is_never_kept_nor_opened(events):
    member = events["member"]
    for name in ("pin_requested", "pin_annual", "pin_linked", "pin_linked_quietly"):
        for mail in domain.mails_for(events[name], member):
            stored = json.dumps(mail.context) + json.dumps(mail.sealed)
            assert events["pin_requested"].pin not in stored
            assert events["secrets"]["pin"] not in stored
            assert "pin" not in mail.context and mail.sealed == {}


def test_a_foreign_country_is_named_in_the_address(events):
    event = events["pin_requested"]
    abroad = event.model_copy(update={"address": event.address.model_copy(update={"country": "AT"})})
    [mail] = domain.mails_for(abroad, events["member"])
    assert mail.context["country"] == "AT"


def test_the_yearly_issue_mails_nobody(events):
    assert domain.mails_for(events["pin_annual"], None) == []
    assert domain.mails_for(events["pin_annual"], events["member"]) == []


def test_a_user_request_without_a_user_mails_nobody(events):
    odd = events["pin_requested"].model_copy(update={"requested_by_user_id": None})
    assert domain.recipient_needed(odd) is None
    assert domain.mails_for(odd, events["member"]) == []


def test_an_unknown_member_gets_no_letter_notice(events):
    assert domain.mails_for(events["pin_requested"], None) == []


def test_someone_else_is_never_mailed_in_the_members_place(events):
    stranger = replace(events["member"], user_id=uuid4(), email="other@example.de")
    assert domain.mails_for(events["pin_requested"], stranger) == []
    [mail] = domain.mails_for(events["pin_linked"], stranger)
    assert mail.kind == domain.BUSINESS_LINKED and mail.context["member_email"] == ""


def test_a_link_mails_the_business_and_the_member(events):
    event, member = events["pin_linked"], events["member"]
    business, mine = domain.mails_for(event, member)
    assert (business.kind, business.recipient) == (domain.BUSINESS_LINKED, "info@mueller-elektro.de")
    assert business.context == {
        "betriebsnummer": "1234567",
        "business_name": "Müller Elektro GmbH",
        "linked_at": NOW.isoformat(),
        "member_name": "Erika Müller",
        "member_email": member.email,
    }
    assert (mine.kind, mine.recipient) == (domain.MEMBER_LINKED, member.email)
    assert mine.context == {
        "first_name": "Erika",
        "last_name": "Müller",
        "betriebsnummer": "1234567",
        "business_name": "Müller Elektro GmbH",
        "linked_at": NOW.isoformat(),
    }
    assert business.source_event_id == mine.source_event_id == event.event_id
    assert business.kind != mine.kind  # the mail table is unique on (source_event_id, kind)


def test_a_business_without_an_address_of_record_gets_no_mail(events):
    [mine] = domain.mails_for(events["pin_linked_quietly"], events["member"])
    assert mine.kind == domain.MEMBER_LINKED


def test_a_link_by_an_unknown_member_still_warns_the_business(events):
    [business] = domain.mails_for(events["pin_linked"], None)
    assert business.kind == domain.BUSINESS_LINKED
    assert (business.context["member_name"], business.context["member_email"]) == ("", "")
    assert domain.mails_for(events["pin_linked_quietly"], None) == []


@pytest.mark.parametrize(
    ("name", "with_member", "count"),
    [
        ("registered", False, 1),
        ("confirmed", False, 1),
        ("pin_annual", True, 0),
        ("pin_requested", False, 0),
        ("pin_requested", True, 1),
        ("pin_linked_quietly", False, 0),
        ("pin_linked_quietly", True, 1),
        ("pin_linked", False, 1),
        ("pin_linked", True, 2),
    ],
)
def test_an_event_makes_none_one_or_two_mails(events, name, with_member, count):
    mails = domain.mails_for(events[name], events["member"] if with_member else None)
    assert len(mails) == count
    assert len({(m.source_event_id, m.kind) for m in mails}) == count


def test_subjects_of_the_new_mails():
    assert domain.SUBJECTS[domain.PIN_LETTER_ON_ITS_WAY] == "Ihr PIN-Brief ist unterwegs"
    assert domain.SUBJECTS[domain.BUSINESS_LINKED] == "Neuer Zugang zum Kundenportal für Ihren Betrieb"
    assert domain.SUBJECTS[domain.MEMBER_LINKED] == "Ihr Konto ist mit Ihrem Betrieb verknüpft"


def test_a_plain_day_stays_that_day():
    assert german.german_date("2025-04-30") == "30.04.2025"
    assert german.german_date(date(2025, 12, 31)) == "31.12.2025"
    # a moment late on 31 December in UTC is already the new year in Wiesbaden
    assert german.german_date((NOW.replace(month=12, day=31, hour=23)).isoformat()) == "01.01.2026"
    assert german.german_date(NOW + timedelta(days=1)) == "04.03.2025"


def test_no_event_both_tells_about_its_person_and_needs_one_looked_up(events):
    """accept_event writes a person's news in one call and looks members up only for the others."""
    both = [
        name
        for name, event in events.items()
        if isinstance(event, Event) and domain.recipient_from(event) and domain.recipient_needed(event)
    ]
    assert both == []
    assert {"changed_by_staff", "pin_unlinked", "registered"} <= set(events)  # the kinds are all there
