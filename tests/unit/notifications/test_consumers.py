from faststream.nats import NatsBroker, TestNatsBroker

from contracts import Event, UserDeletedV1, UserPasswordChangedV1
from services.notifications import consumers, domain, news
from tests.support.consumers import service_broker, subscribe_all

NAMES = ("registered", "repeated", "confirmed", "reset", "changed")
PIN_NAMES = ("pin_requested", "pin_linked", "pin_unlinked", "changed_by_staff")


class Accepted:
    def __init__(self, fail: Exception | None = None) -> None:
        self.events: list[Event] = []
        self.fail = fail

    async def __call__(self, event: Event) -> bool:
        if self.fail is not None:
            raise self.fail
        self.events.append(event)
        return True


def broker_with(accept) -> NatsBroker:
    broker = service_broker("notifications")
    subscribe_all(broker, "notifications", accept)
    return broker


def test_durables_follow_polyn_naming():
    assert consumers.durable_name("user.registered.v1") == "notifications_user_registered_v1"
    assert consumers.durable_name("user.password_reset_requested.v1") == (
        "notifications_user_password_reset_requested_v1"
    )
    assert consumers.durable_name("user.password_changed.v1") == ("notifications_user_password_changed_v1")
    subjects = {c.SUBJECT for c in consumers.SUBSCRIBED}
    assert subjects == {
        "user.registered.v1",
        "user.registration_repeated.v1",
        "user.confirmed.v1",
        "user.password_reset_requested.v1",
        "user.password_changed.v1",
        "pin.requested.v1",
        "pin.linked.v1",
        "pin.unlinked.v1",
        "user.changed_by_staff.v1",
    }
    assert UserPasswordChangedV1 in consumers.SUBSCRIBED
    assert consumers.durable_name("pin.requested.v1") == "notifications_pin_requested_v1"
    assert consumers.durable_name("pin.linked.v1") == "notifications_pin_linked_v1"


def test_every_subscribed_event_makes_a_mail(events):
    member = events["member"]
    made = {mail.kind for n in (*NAMES, *PIN_NAMES, "staff_setup") for mail in domain.mails_for(events[n], member)}
    assert {type(events[n]) for n in NAMES + PIN_NAMES} == set(consumers.SUBSCRIBED)
    assert made == {
        domain.REGISTRATION_CONFIRMATION,
        domain.ALREADY_REGISTERED,
        domain.INITIAL_PASSWORD,
        domain.PASSWORD_RESET,
        domain.PASSWORD_CHANGED,
        domain.PIN_LETTER_ON_ITS_WAY,
        domain.BUSINESS_LINKED,
        domain.MEMBER_LINKED,
        news.MEMBER_UNLINKED,
        news.BUSINESS_UNLINKED,
        news.ACCOUNT_DEACTIVATED,
        news.STAFF_SETUP,
    }
    # Made elsewhere: the contact form's, the other staff changes', and the erasure's last word.
    elsewhere = {domain.CONTACT_REQUEST, domain.CONTACT_COPY, news.THROTTLE_LIFTED, news.ACCOUNT_REACTIVATED}
    assert made | elsewhere | {news.ACCOUNT_ERASED} == set(domain.SUBJECTS)


def test_each_subject_gets_its_own_durable_pull_subscriber():
    broker = broker_with(Accepted())
    registered = sorted(
        (sub.config.durable_name, sub.stream.name, sub.pull_sub.batch_size) for sub in broker.subscribers
    )
    read = (*consumers.SUBSCRIBED, UserDeletedV1)  # the one event that asks for no mail
    assert registered == sorted((consumers.durable_name(c.SUBJECT), c.STREAM, 1) for c in read)
    assert ("notifications_user_password_changed_v1", "PORTAL_USERS", 1) in registered
    assert ("notifications_pin_requested_v1", "PORTAL_PINS", 1) in registered
    assert ("notifications_pin_linked_v1", "PORTAL_PINS", 1) in registered
    assert ("notifications_pin_unlinked_v1", "PORTAL_PINS", 1) in registered
    assert ("notifications_user_changed_by_staff_v1", "PORTAL_USERS", 1) in registered
    assert len(registered) == len(set(registered)) == 10


def test_pin_subscribers_take_only_their_own_subject():
    broker = broker_with(Accepted())
    subjects = {sub.config.durable_name: sub.subject.broker_address for sub in broker.subscribers}
    assert subjects["notifications_pin_requested_v1"] == "pin.requested.v1"
    assert subjects["notifications_pin_linked_v1"] == "pin.linked.v1"


async def test_each_subject_hands_its_contract_to_the_use_case(events):
    accept = Accepted()
    broker = broker_with(accept)
    async with TestNatsBroker(broker) as test:
        for name in NAMES:
            event = events[name]
            await test.publish(event.model_dump_json().encode(), event.SUBJECT, stream=event.STREAM)
    assert [type(e) for e in accept.events] == [type(events[n]) for n in NAMES]
    assert accept.events[-1] == events["changed"]
    assert accept.events[0] == events["registered"]


async def test_pin_events_reach_the_use_case_from_their_stream(events):
    accept = Accepted()
    broker = broker_with(accept)
    async with TestNatsBroker(broker) as test:
        for name in ("pin_requested", "pin_annual", "pin_linked", "pin_linked_quietly"):
            event = events[name]
            assert event.STREAM == "PORTAL_PINS"
            await test.publish(event.model_dump_json().encode(), event.SUBJECT, stream=event.STREAM)
    assert accept.events == [events[n] for n in ("pin_requested", "pin_annual", "pin_linked", "pin_linked_quietly")]


async def test_an_unreadable_message_is_dropped_without_an_error(events):
    accept = Accepted()
    broker = broker_with(accept)
    async with TestNatsBroker(broker) as test:
        await test.publish(b"not json", "user.registered.v1", stream="PORTAL_USERS")
        await test.publish(b'{"email": "x@example.de"}', "user.confirmed.v1", stream="PORTAL_USERS")
        event = events["reset"]
        await test.publish(event.model_dump_json().encode(), event.SUBJECT, stream=event.STREAM)
    assert accept.events == [events["reset"]]


async def test_a_failed_commit_does_not_raise_out_of_the_subscriber(events):
    broker = broker_with(Accepted(fail=ConnectionError("postgres away")))
    event = events["registered"]
    async with TestNatsBroker(broker) as test:
        await test.publish(event.model_dump_json().encode(), event.SUBJECT, stream=event.STREAM)
