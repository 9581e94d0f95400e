"""The use case `accept_event` with the database faked: what commits together, and an unknown
member skipped without failing (so the event is not redelivered in a loop)."""

import logging
from dataclasses import replace

import pytest

from services.notifications import domain, handlers, metrics, repository
from tests.unit.notifications.sample import NOW


class Store:
    """The rows the fake repository keeps, and whether a transaction is open."""

    def __init__(self) -> None:
        self.handled: set = set()
        self.recipients: dict = {}
        self.mails: dict = {}
        self.tombstones: set = set()
        self.locked: list = []
        self.in_transaction = False
        self.writes_outside: list[str] = []

    def write(self, what: str) -> None:
        if not self.in_transaction:
            self.writes_outside.append(what)


class Transaction:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def __aenter__(self):
        self.store.in_transaction = True

    async def __aexit__(self, *exc):
        self.store.in_transaction = False


class Pool:
    def __init__(self, store: Store) -> None:
        self.store = store

    def acquire(self):
        return self

    def transaction(self):
        return Transaction(self.store)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return None


@pytest.fixture
def store(monkeypatch) -> Store:
    store = Store()

    async def first_time(conn, event, lock=None):
        store.write("processed_events")
        if lock is not None:
            store.locked.append(lock)
        new = event.event_id not in store.handled
        store.handled.add(event.event_id)
        return new

    async def record(conn, person, mails, now):
        """As the one statement does: nothing for someone erased, an older event changes no row."""
        if person is not None and person.user_id in store.tombstones:
            return None
        if person is not None:
            store.write("recipients")
            known = store.recipients.get(person.user_id)
            if known is None or known.updated_at <= person.updated_at:
                store.recipients[person.user_id] = person
        added = []
        for mail in mails:
            store.write("mails")
            key = (mail.source_event_id, mail.kind)
            if key not in store.mails:
                store.mails[key] = mail
                added.append(mail.kind)
        return added

    async def record_event(conn, event, lock, person, mails, now):
        """The marker, the lock and `record` in one call: its own transaction."""
        store.in_transaction = True
        try:
            if not await first_time(conn, event, lock):
                return False
            return await record(conn, person, mails, now)
        finally:
            store.in_transaction = False

    async def lookup(conn, user_id):
        return store.recipients.get(user_id)

    monkeypatch.setattr(handlers, "first_time", first_time)
    monkeypatch.setattr(repository, "record", record)
    monkeypatch.setattr(repository, "record_event", record_event)
    monkeypatch.setattr(repository, "recipient", lookup)
    return store


async def test_confirmation_fills_the_projection_with_its_mail(store, events):
    event = events["confirmed"]
    assert await handlers.accept_event(Pool(store), event, NOW)
    assert store.recipients[event.user_id] == domain.Recipient(
        event.user_id, event.email, "Erika", "Müller", event.occurred_at
    )
    assert [m.kind for m in store.mails.values()] == [domain.INITIAL_PASSWORD]
    assert store.writes_outside == []


async def test_a_later_user_event_updates_the_projection_an_older_one_does_not(store, events):
    first = events["registered"]
    confirmed = events["confirmed"].model_copy(
        update={
            "user_id": first.user_id,
            "email": "neu@example.de",
            "last_name": "Schmidt",
            "occurred_at": first.occurred_at.replace(year=2030),
        }
    )
    await handlers.accept_event(Pool(store), first, NOW)
    await handlers.accept_event(Pool(store), confirmed, NOW)
    assert store.recipients[first.user_id].email == "neu@example.de"
    late = events["changed"].model_copy(update={"user_id": first.user_id, "email": "alt@example.de"})
    await handlers.accept_event(Pool(store), late, NOW)  # occurred before `confirmed`
    assert store.recipients[first.user_id].email == "neu@example.de"
    assert store.recipients[first.user_id].last_name == "Schmidt"


async def test_a_pin_request_mails_the_member_the_projection_knows(store, events):
    member = events["member"]
    store.recipients[member.user_id] = member
    assert await handlers.accept_event(Pool(store), events["pin_requested"], NOW)
    [mail] = store.mails.values()
    assert (mail.kind, mail.recipient) == (domain.PIN_LETTER_ON_ITS_WAY, member.email)
    assert store.writes_outside == []


async def test_a_link_queues_both_mails_in_one_transaction(store, events):
    member = events["member"]
    store.recipients[member.user_id] = member
    event = events["pin_linked"]
    before = metrics.MAILS_QUEUED.labels(domain.MEMBER_LINKED)._value.get()
    assert await handlers.accept_event(Pool(store), event, NOW)
    assert set(store.mails) == {(event.event_id, domain.BUSINESS_LINKED), (event.event_id, domain.MEMBER_LINKED)}
    assert store.writes_outside == []
    assert metrics.MAILS_QUEUED.labels(domain.MEMBER_LINKED)._value.get() == before + 1
    assert not await handlers.accept_event(Pool(store), event, NOW)  # redelivered: nothing new
    assert len(store.mails) == 2


async def test_an_unknown_member_is_logged_and_skipped_not_retried(store, events, caplog):
    event = events["pin_requested"]
    skipped = metrics.MAILS_SKIPPED.labels(event.SUBJECT, "unknown_recipient")
    before = skipped._value.get()
    with caplog.at_level(logging.WARNING, logger=handlers.__name__):
        assert await handlers.accept_event(Pool(store), event, NOW) is True
    assert store.mails == {}
    assert event.event_id in store.handled  # done: a redelivery is a duplicate, not a loop
    assert skipped._value.get() == before + 1
    [record] = caplog.records
    assert record.user_id == str(event.requested_by_user_id)
    assert events["secrets"]["pin"] not in caplog.text and event.pin not in caplog.text


async def test_a_link_by_an_unknown_member_still_tells_the_business(store, events):
    event = events["pin_linked"]
    assert await handlers.accept_event(Pool(store), event, NOW)
    assert [m.kind for m in store.mails.values()] == [domain.BUSINESS_LINKED]


async def test_the_yearly_issue_is_handled_without_mail_or_lookup(store, events, monkeypatch):
    async def no_lookup(conn, user_id):
        raise AssertionError("nobody to look up")

    monkeypatch.setattr(repository, "recipient", no_lookup)
    event = events["pin_annual"]
    assert await handlers.accept_event(Pool(store), event, NOW)
    assert store.mails == {} and event.event_id in store.handled


async def test_a_member_mail_goes_to_the_address_the_projection_has_now(store, events):
    member = replace(events["member"], email="spaeter@example.de")
    store.recipients[member.user_id] = member
    await handlers.accept_event(Pool(store), events["pin_linked_quietly"], NOW)
    [mail] = store.mails.values()
    assert mail.recipient == "spaeter@example.de"


async def test_a_user_event_about_someone_erased_keeps_nothing_and_mails_nobody(store, events):
    event = events["confirmed"]
    store.tombstones.add(event.user_id)
    assert await handlers.accept_event(Pool(store), event, NOW)
    assert store.recipients == {} and store.mails == {}
    assert store.locked == [repository.person_lock(event.user_id)] and store.writes_outside == []
    assert event.event_id in store.handled  # done: not redelivered
