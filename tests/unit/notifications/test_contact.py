"""The contact form: its validation (German messages per field), the two mails one request
queues in one transaction, the limits per client and per address, and the mails as sent."""

from datetime import timedelta
from email import message_from_bytes, policy
from uuid import UUID, uuid4

import pytest
from aiohttp.test_utils import TestClient, TestServer

from runtime import identity, service
from runtime.web import create_service_app
from services.notifications import contact, domain, http, repository
from tests.unit.notifications.sample import NOW

SECRET = "unit-test-internal-secret-0123456789abcdef"
SUPPORT = "kundenportal@hwk-wiesbaden.de"
URL = "/api/v1/notifications/contact"
VALID = {"name": "Erika Müller", "email": "erika@example.de", "betriebsnummer": "1234567",
         "betriebsname": "Müller Elektro GmbH", "message": "Ich finde meine PIN nicht mehr."}


class Store:
    def __init__(self) -> None:
        self.mails: dict = {}
        self.contacts: list[tuple[UUID, str, str, object]] = []
        self.in_transaction = False
        self.writes_outside: list[str] = []
        self.transactions = 0
        self.fail_second_mail = False

    def write(self, what: str) -> None:
        if not self.in_transaction:
            self.writes_outside.append(what)


class Transaction:
    """Rolls the store back when the block fails, as Postgres would."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def __aenter__(self):
        self.store.in_transaction = True
        self.store.transactions += 1
        self.saved = (dict(self.store.mails), list(self.store.contacts))

    async def __aexit__(self, kind, *exc):
        self.store.in_transaction = False
        if kind is not None:
            self.store.mails, self.store.contacts = self.saved


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

    async def lock(conn, client, key):
        assert store.in_transaction

    async def recent(conn, client, key, since):
        rows = [c for c in store.contacts if c[3] > since]
        return [c[3] for c in rows if c[1] == client], [c[3] for c in rows if c[2] == key]

    async def add_contact(conn, request_id, client, key, now, forget_before):
        store.write("contact_requests")
        store.contacts = [c for c in store.contacts if c[3] >= forget_before]
        store.contacts.append((request_id, client, key, now))

    async def add_mail(conn, mail, now):
        store.write("mails")
        if store.fail_second_mail and store.mails:
            raise OSError("database went away")
        key = (mail.source_event_id, mail.kind)
        assert key not in store.mails
        store.mails[key] = mail
        return uuid4()

    monkeypatch.setattr(repository, "lock_contact_keys", lock)
    monkeypatch.setattr(repository, "recent_contacts", recent)
    monkeypatch.setattr(repository, "add_contact", add_contact)
    monkeypatch.setattr(repository, "add_mail", add_mail)
    return store


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(store, clock):
    app = create_service_app(SECRET)
    http.add_routes(app, support_email=SUPPORT, clock=clock)
    app[service.POOL] = Pool(store)
    async with TestClient(TestServer(app)) as client:
        yield client


def post(client, body, address="192.0.2.1"):
    headers = identity.sign(SECRET, identity.Identity(user="", client=address))
    return client.post(URL, json=body, headers=headers)


async def test_a_request_queues_the_request_and_the_copy_in_one_transaction(client, store):
    response = await post(client, VALID)
    assert response.status == 202
    assert await response.json() == {"status": "accepted", "message": (
        "Vielen Dank für Ihre Nachricht. Wir melden uns schnellstmöglich. "
        "Eine Kopie haben wir Ihnen per E-Mail gesandt.")}
    assert store.transactions == 1 and store.writes_outside == []
    request, copy = store.mails.values()
    assert request.source_event_id == copy.source_event_id == store.contacts[0][0]
    assert (request.kind, request.recipient) == (domain.CONTACT_REQUEST, SUPPORT)
    assert (copy.kind, copy.recipient) == (domain.CONTACT_COPY, "erika@example.de")
    assert request.context["reply_to"] == "erika@example.de"
    assert request.context["subject"] == "Kontaktanfrage aus dem Kundenportal – Betriebsnummer 1234567"
    assert copy.context["message"] == "Ich finde meine PIN nicht mehr."
    assert request.sealed == copy.sealed == {}


async def test_each_request_has_its_own_source_id(client, store):
    await post(client, VALID)
    await post(client, VALID)
    assert len({key[0] for key in store.mails}) == 2 and len(store.mails) == 4


async def test_a_failing_second_mail_stores_nothing(client, store):
    store.fail_second_mail = True
    response = await post(client, VALID)
    assert response.status == 503
    assert store.mails == {} and store.contacts == []


async def test_optional_fields_may_be_left_out(client, store):
    body = {k: VALID[k] for k in ("name", "email", "message")}
    assert (await post(client, body)).status == 202
    request, _ = store.mails.values()
    assert request.context["subject"] == "Kontaktanfrage aus dem Kundenportal"
    assert request.context["betriebsnummer"] == "" and request.context["betriebsname"] == ""


@pytest.mark.parametrize(("field", "value", "message"), [
    ("name", "   ", "Bitte geben Sie Ihren Namen ein."),
    ("name", "x" * 101, "Bitte kürzen Sie den Namen auf höchstens 100 Zeichen."),
    ("email", "", "Bitte geben Sie Ihre E-Mail-Adresse ein."),
    ("email", "erika@", "Bitte geben Sie eine gültige E-Mail-Adresse ein, z. B. name@beispiel.de."),
    ("email", "erika@example", "Bitte geben Sie eine gültige E-Mail-Adresse ein, z. B. name@beispiel.de."),
    ("email", "a b@example.de", "Bitte geben Sie eine gültige E-Mail-Adresse ein, z. B. name@beispiel.de."),
    ("betriebsnummer", "12a45", "Die Betriebsnummer besteht nur aus Ziffern. Sie finden sie auf Ihrem "
                                "Beitragsbescheid."),
    ("betriebsnummer", "1" * 21, "Die Betriebsnummer hat höchstens 20 Ziffern."),
    ("betriebsname", "x" * 201, "Bitte kürzen Sie den Namen des Betriebs auf höchstens 200 Zeichen."),
    ("message", "Hilfe!", "Bitte schreiben Sie uns Ihr Anliegen in mindestens 10 Zeichen."),
    ("message", "x" * 5001, "Bitte kürzen Sie Ihre Nachricht auf höchstens 5000 Zeichen."),
    ("message", 42, "Bitte geben Sie einen Text ein."),
])
async def test_invalid_input_is_a_422_with_the_fields_german_message(client, store, field, value, message):
    response = await post(client, {**VALID, field: value})
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == "invalid_input" and error["message"] == "Bitte prüfen Sie Ihre Eingaben."
    assert error["fields"] == {field: message}
    assert store.mails == {} and store.contacts == []


async def test_missing_fields_are_named(client, store):
    response = await post(client, {"betriebsnummer": "1"})
    fields = (await response.json())["error"]["fields"]
    assert response.status == 422
    assert fields == dict.fromkeys(("name", "email", "message"), "Bitte füllen Sie dieses Feld aus.")


async def test_an_unsigned_request_is_refused(client, store):
    response = await client.post(URL, json=VALID)
    assert response.status == 403 and store.mails == {}


async def test_input_is_cleaned(client, store):
    body = {**VALID, "name": "  Erika   Müller ", "email": " Erika@Example.DE ", "betriebsnummer": " 123 4567 ",
            "message": "\r\n  Zeile eins\r\nZeile\x00 zwei  \r\n"}
    assert (await post(client, body)).status == 202
    request, copy = store.mails.values()
    assert copy.recipient == "Erika@example.de" and request.context["name"] == "Erika Müller"
    assert request.context["betriebsnummer"] == "1234567"
    assert request.context["message"] == "Zeile eins\nZeile zwei"


async def test_a_client_may_write_five_times_an_hour(client, store, clock):
    for n in range(5):
        assert (await post(client, {**VALID, "email": f"n{n}@example.de"})).status == 202
        clock.now += timedelta(minutes=1)
    response = await post(client, {**VALID, "email": "sechs@example.de"})
    assert response.status == 429
    error = (await response.json())["error"]
    assert error["code"] == "contact_limit" and "in der letzten Stunde" in error["message"]
    assert int(response.headers["Retry-After"]) == 55 * 60 + 1
    assert len(store.mails) == 10
    assert (await post(client, VALID, address="192.0.2.99")).status == 202  # another client
    clock.now = NOW + timedelta(hours=1, seconds=1)
    assert (await post(client, {**VALID, "email": "spaeter@example.de"})).status == 202


async def test_one_address_gets_at_most_five_copies_an_hour_from_any_client(client, store):
    for n in range(5):
        assert (await post(client, {**VALID, "email": "opfer@example.de"}, address=f"198.51.100.{n}")).status == 202
    response = await post(client, {**VALID, "email": "OPFER@example.de"}, address="198.51.100.77")
    assert response.status == 429
    assert sum(m.recipient.lower() == "opfer@example.de" for m in store.mails.values()) == 5


def test_the_limit_counts_only_the_last_hour():
    old = [NOW - timedelta(hours=2)] * 10
    assert contact.wait_before_next(old, old, NOW) is None
    recent = [NOW - timedelta(minutes=m) for m in (50, 40, 30, 20, 10)]
    assert contact.wait_before_next(recent, [], NOW) == timedelta(minutes=10)
    assert contact.wait_before_next([], recent, NOW) == timedelta(minutes=10)
    assert contact.wait_before_next(recent[1:], recent[1:], NOW) is None


def test_the_limits_can_be_set():
    recent = [NOW - timedelta(minutes=m) for m in (30, 20)]
    limits = contact.Limits(per_client=2, per_address=3)
    assert contact.wait_before_next(recent, [], NOW, limits) == timedelta(minutes=30)
    assert contact.wait_before_next([], recent, NOW, limits) is None


@pytest.mark.parametrize("value", ["erika@example.de", "e.r+ka@sub.example.de", "x@müller.de"])
def test_valid_addresses(value):
    assert contact.clean_email(value) == value


@pytest.fixture
def sent(composer):
    """A contact request's two mails, composed and parsed back from their bytes."""

    def compose(**changes):
        request = contact.ContactRequest(**{**VALID, **changes})
        mails = contact.mails_for_contact(request, uuid4(), SUPPORT, NOW)
        parsed = []
        for mail in mails:
            queued = domain.QueuedMail(uuid4(), mail.kind, mail.recipient, mail.context, mail.sealed, 1)
            message = composer.compose(queued, NOW)
            parsed.append(message_from_bytes(message.as_bytes(), policy=policy.default))
        return parsed

    return compose


def text_and_html(message):
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def test_the_request_to_support_answers_to_the_sender(sent):
    request, copy = sent()
    assert request["To"] == SUPPORT and request["Reply-To"] == "erika@example.de"
    assert request["Subject"] == "Kontaktanfrage aus dem Kundenportal – Betriebsnummer 1234567"
    text, html = text_and_html(request)
    for part in (text, html):
        assert "Erika Müller" in part and "Müller Elektro GmbH" in part and "1234567" in part
        assert "Ich finde meine PIN nicht mehr." in part
    assert "Mit freundlichen Grüßen" not in text  # an internal notice, not a letter
    assert copy["Reply-To"] is None


def test_the_copy_to_the_sender(sent):
    _, copy = sent()
    assert copy["To"] == "erika@example.de"
    assert copy["Subject"] == "Ihre Nachricht an die Handwerkskammer"
    text, html = text_and_html(copy)
    for part in (text, html):
        assert "Guten Tag Erika Müller," in part and "Wir melden uns schnellstmöglich." in part
        assert "Ich finde meine PIN nicht mehr." in part
        assert "Noch Fragen? Kontaktieren Sie uns!" in part


def test_the_message_is_escaped_in_html_and_plain_in_text(sent):
    evil = '<script>alert("x")</script>\n<a href="https://evil.example">Klick</a> & Co.'
    for message in sent(message=evil, name="<b>Erika</b>", betriebsname="A & B <GmbH>"):
        text, html = text_and_html(message)
        assert evil in text and "<b>Erika</b>" in text
        assert "<script" not in html and "<b>Erika" not in html and 'href="https://evil' not in html
        assert "&lt;script&gt;" in html and "&amp; Co." in html and "A &amp; B &lt;GmbH&gt;" in html
        assert "&lt;a href=" in html and "<br>" in html  # its line breaks kept


def test_a_long_line_is_encoded_for_smtp(sent):
    long_line = "Sehr lange Zeile mit Umlauten äöü " * 100
    for message in sent(message=long_line):
        raw = message.as_bytes()
        assert max(len(line) for line in raw.split(b"\n")) <= 998
        text, _ = text_and_html(message)
        assert long_line.strip() in text


def test_the_reply_to_cannot_carry_a_header(sent):
    with pytest.raises(ValueError):
        contact.clean_email("erika@example.de\r\nBcc: alle@example.de")
