"""The queue's schedule: how long each mail is worth sending, which goes first, when a failed
one is tried again, and that a live worker keeps its claims."""

from datetime import UTC, date, datetime, timedelta

import pytest

from services.notifications import domain, news, schedule
from tests.unit.notifications.sample import NOW

HOUR = timedelta(hours=1)


def test_retry_delay_doubles_from_30_seconds_and_stops_at_an_hour():
    delays = [schedule.retry_delay(n) for n in range(1, 12)]
    assert delays[:4] == [timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert delays[-1] == HOUR
    assert all(a <= b for a, b in zip(delays, delays[1:], strict=False))
    assert max(delays) == HOUR


def test_a_passing_failure_is_retried_later():
    assert schedule.after_failure(3, NOW, NOW + 48 * HOUR) == schedule.Retry(NOW + timedelta(minutes=2), False)


def test_no_number_of_tries_gives_a_useful_mail_up():
    # 72 hours of hourly tries, and the initial password (14 days) still waits for the server.
    decision = schedule.after_failure(80, NOW, NOW + timedelta(days=14), server=True)
    assert decision == schedule.Retry(NOW + HOUR, True)


def test_a_refusal_for_good_fails_at_once():
    assert schedule.after_failure(1, NOW, NOW + HOUR, permanent=True) == schedule.GiveUp(schedule.FAILED)


def test_a_failure_after_the_purpose_ended_expires_the_mail():
    assert schedule.after_failure(4, NOW, NOW) == schedule.GiveUp(schedule.EXPIRED)


def test_a_retry_that_would_come_too_late_comes_while_the_link_still_works():
    useful = NOW + timedelta(minutes=20)
    decision = schedule.after_failure(7, NOW, useful)  # 32 min would be after the link's end
    assert decision == schedule.Retry(useful - schedule.LAST_CHANCE, False)
    late = NOW + timedelta(minutes=2)  # no time left for a last chance: it expires unsent
    assert schedule.after_failure(7, NOW, late).at > late


def test_a_lease_outlives_missed_heartbeats_but_not_a_dead_worker_for_long():
    assert schedule.LEASE >= 3 * schedule.HEARTBEAT
    assert schedule.LEASE <= timedelta(seconds=30)  # its mails go out within 30 s of a restart


@pytest.mark.parametrize(
    ("name", "ends"),
    [
        ("registered", lambda e: e.link_expires_at),
        ("reset", lambda e: e.link_expires_at),
        ("confirmed", lambda e: e.initial_password_expires_at),
    ],
)
def test_a_mail_carrying_a_link_or_password_is_useful_as_long_as_it_works(events, name, ends):
    [mail] = domain.mails_for(events[name])
    assert schedule.useful_until(mail) == ends(events[name])


def test_the_pin_letter_notice_is_useful_while_the_pin_is_valid(events):
    event = events["pin_requested"]
    [mail] = domain.mails_for(event, events["member"])
    assert event.valid_until == date(2025, 4, 30)
    # The PIN works all of 30 April in Wiesbaden (CEST): until 22:00 UTC.
    assert schedule.useful_until(mail) == datetime(2025, 4, 30, 22, 0, tzinfo=UTC)


def test_notices_live_from_their_event(events):
    event = events["changed"]
    [mail] = domain.mails_for(event)
    assert schedule.useful_until(mail) == event.occurred_at + schedule.LIFETIMES[domain.PASSWORD_CHANGED]
    assert schedule.LIFETIMES[domain.PASSWORD_CHANGED] >= timedelta(days=7)  # a weekend outage is no reason to drop it


def test_every_kind_has_an_urgency_and_an_end(events):
    made = [*domain.mails_for(events["pin_requested"], events["member"])]
    made += domain.mails_for(events["pin_linked"], events["member"])
    made += domain.mails_for(events["pin_unlinked"], events["member"])
    for change in ("throttle_lifted", "deactivated", "reactivated"):
        made += domain.mails_for(events["changed_by_staff"].model_copy(update={"change": change}), events["member"])
    made += news.erased_by_staff(events["deleted_by_staff"], events["member"])
    for name in ("registered", "repeated", "confirmed", "reset", "changed", "staff_setup"):
        made += domain.mails_for(events[name])
    assert {m.kind for m in made} | {domain.CONTACT_REQUEST, domain.CONTACT_COPY} == set(domain.SUBJECTS)
    assert set(schedule.URGENCY) == set(domain.SUBJECTS)
    for mail in made:  # an aware moment, to compare with the clock's
        assert schedule.useful_until(mail).utcoffset() is not None
    for kind in (domain.CONTACT_REQUEST, domain.CONTACT_COPY):
        assert kind in schedule.LIFETIMES


def test_links_go_before_notices():
    urgency = schedule.urgency
    assert urgency(domain.PASSWORD_RESET) < urgency(domain.REGISTRATION_CONFIRMATION)
    assert urgency(domain.REGISTRATION_CONFIRMATION) == urgency(domain.INITIAL_PASSWORD)
    notices = [domain.PASSWORD_CHANGED, domain.PIN_LETTER_ON_ITS_WAY, domain.MEMBER_LINKED, domain.CONTACT_COPY]
    assert all(urgency(domain.INITIAL_PASSWORD) < urgency(kind) for kind in notices)
