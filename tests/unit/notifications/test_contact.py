"""The contact form: its validation (German messages per field), the mails one request queues in
one transaction — to support always, a copy only to a signed-in member's own address — the limits
per client, per address and for everyone, and the mails as sent."""

import json
from datetime import timedelta
from email import message_from_bytes, policy
from uuid import UUID, uuid4

import pytest
from aiohttp.test_utils import TestClient, TestServer

from runtime import identity, service
from runtime.sessions import SessionUser
from runtime.web import create_service_app
from services.notifications import contact, domain, http, repository
from tests.unit.notifications.sample import NOW

PUBLIC_KEY, PRIVATE_KEY = identity.generate_signing_keypair()
SUPPORT = "kundenportal@hwk-wiesbaden.de"
PHONE = "0611 136-444"
URL = "/api/v1/notifications/contact"
VALID = {
    "name": "Erika Müller",
    "email": "erika@example.de",
    "betriebsnummer": "1234567",
    "betriebsname": "Müller Elektro GmbH",
    "message": "Ich finde meine PIN nicht mehr.",
}
ACCEPTED = {"status": "accepted", "message": "Vielen Dank für Ihre Nachricht. Wir melden uns schnellstmöglich."}
MEMBER = domain.Recipient(uuid4(), "anna.muster@example.de", "Anna", "Muster", NOW)


class Store:
    def __init__(self) -> None:
        self.mails: dict = {}
        self.contacts: list[tuple[UUID, str, str, object]] = []
        self.recipients: dict = {MEMBER.user_id: MEMBER}
        self.in_transaction = False
        self.writes_outside: list[str] = []
        self.locks: list[str] = []
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
        self.store.locks = []
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
        store.locks += [f"client:{client}", f"address:{key}"]

    async def lock_all(conn):
        assert store.in_transaction
        store.locks.append("everyone")

    async def recent(conn, client, key, since):
        assert f"client:{client}" in store.locks and f"address:{key}" in store.locks
        rows = [c for c in store.contacts if c[3] > since]
        return [c[3] for c in rows if c[1] == client], [c[3] for c in rows if c[2] == key]

    async def latest(conn, since, limit):
        assert "everyone" in store.locks  # counted only under the lock, or parallel requests slip past
        return sorted((c[3] for c in store.contacts if c[3] > since), reverse=True)[:limit]

    async def add_contact(conn, request_id, client, key, now, forget_before):
        assert "everyone" in store.locks
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

    async def recipient(conn, user_id):
        assert store.in_transaction
        return store.recipients.get(user_id)

    monkeypatch.setattr(repository, "lock_contact_keys", lock)
    monkeypatch.setattr(repository, "lock_all_contacts", lock_all)
    monkeypatch.setattr(repository, "recent_contacts", recent)
    monkeypatch.setattr(repository, "latest_contacts", latest)
    monkeypatch.setattr(repository, "add_contact", add_contact)
    monkeypatch.setattr(repository, "add_mail", add_mail)
    monkeypatch.setattr(repository, "recipient", recipient)
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
def limits() -> contact.Limits:
    return contact.Limits()


@pytest.fixture
async def client(store, clock, limits):
    app = create_service_app(PUBLIC_KEY)
    http.add_routes(app, support_email=SUPPORT, support_phone=PHONE, clock=clock, limits=limits)
    app[service.POOL] = Pool(store)
    async with TestClient(TestServer(app)) as client:
        yield client


def signed_in(member: domain.Recipient = MEMBER) -> str:
    return SessionUser(member.user_id, uuid4()).header()


def post(client, body, address="192.0.2.1", user=""):
    """Signed as the gateway would, for this very body; `user` from `signed_in()` or anonymous."""
    raw = json.dumps(body).encode()
    headers = identity.Signer(PRIVATE_KEY).headers(identity.Identity(user=user, client=address), "POST", URL, raw)
    return client.post(URL, data=raw, headers={**headers, "Content-Type": "application/json"})


def mails_to(store: Store, address: str) -> list[domain.NewMail]:
    return [m for m in store.mails.values() if m.recipient.lower() == address.lower()]


async def test_an_anonymous_request_queues_only_the_request_to_support(client, store):
    response = await post(client, VALID)
    assert response.status == 202
    assert await response.json() == ACCEPTED
    assert store.transactions == 1 and store.writes_outside == []
    (request,) = store.mails.values()
    assert request.source_event_id == store.contacts[0][0]
    assert (request.kind, request.recipient) == (domain.CONTACT_REQUEST, SUPPORT)
    assert request.context["reply_to"] == "erika@example.de"
    assert request.context["account_email"] == ""
    assert request.context["subject"] == "Kontaktanfrage aus dem Kundenportal – Betriebsnummer 1234567"
    assert request.context["message"] == "Ich finde meine PIN nicht mehr."
    assert request.sealed == {}


async def test_an_anonymous_sender_naming_a_strangers_address_sends_the_stranger_nothing(client, store):
    stranger = "chef@fremde-firma.example"
    body = {**VALID, "email": stranger, "message": "Kaufen Sie billige Uhren bei https://evil.example"}
    assert (await post(client, body)).status == 202
    assert mails_to(store, stranger) == []
    assert [m.recipient for m in store.mails.values()] == [SUPPORT]


async def test_a_signed_in_member_gets_the_copy_at_their_own_address_even_if_they_typed_another(client, store):
    response = await post(client, {**VALID, "email": "buero@example.de"}, user=signed_in())
    assert response.status == 202 and await response.json() == ACCEPTED
    request, copy = store.mails.values()
    assert request.source_event_id == copy.source_event_id
    assert (request.recipient, request.context["reply_to"]) == (SUPPORT, "buero@example.de")
    assert request.context["account_email"] == MEMBER.email  # support sees who is signed in
    assert (copy.kind, copy.recipient) == (domain.CONTACT_COPY, MEMBER.email)
    assert (copy.context["first_name"], copy.context["last_name"]) == ("Anna", "Muster")
    assert copy.context["message"] == VALID["message"]
    assert mails_to(store, "buero@example.de") == []


async def test_a_member_unknown_to_notifications_gets_no_copy(client, store):
    stranger = domain.Recipient(uuid4(), "x@example.de", "X", "Y", NOW)
    assert (await post(client, VALID, user=signed_in(stranger))).status == 202
    assert [m.recipient for m in store.mails.values()] == [SUPPORT]


async def test_the_answer_never_tells_whether_or_where_a_copy_went(client, store):
    unknown = domain.Recipient(uuid4(), "x@example.de", "X", "Y", NOW)
    answers = []
    for n, user in enumerate(["", signed_in(), signed_in(unknown)]):
        response = await post(client, {**VALID, "email": f"n{n}@example.de"}, address=f"192.0.2.{n}", user=user)
        answers.append((response.status, await response.json()))
    assert answers == [(202, ACCEPTED)] * 3
    assert "Kopie" not in ACCEPTED["message"]


async def test_each_request_has_its_own_source_id(client, store):
    await post(client, VALID, user=signed_in())
    await post(client, VALID, user=signed_in())
    assert len({key[0] for key in store.mails}) == 2 and len(store.mails) == 4


async def test_a_failing_second_mail_stores_nothing(client, store):
    store.fail_second_mail = True
    response = await post(client, VALID, user=signed_in())
    assert response.status == 503
    assert store.mails == {} and store.contacts == []


async def test_optional_fields_may_be_left_out(client, store):
    body = {k: VALID[k] for k in ("name", "email", "message")}
    assert (await post(client, body)).status == 202
    (request,) = store.mails.values()
    assert request.context["subject"] == "Kontaktanfrage aus dem Kundenportal"
    assert request.context["betriebsnummer"] == "" and request.context["betriebsname"] == ""


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "   ", "Bitte geben Sie Ihren Namen ein."),
        ("name", "x" * 101, "Bitte kürzen Sie den Namen auf höchstens 100 Zeichen."),
        ("email", "", "Bitte geben Sie Ihre E-Mail-Adresse ein."),
        ("email", "erika@", "Bitte geben Sie eine gültige E-Mail-Adresse ein, z. B. name@beispiel.de."),
        ("email", "erika@example", "Bitte geben Sie eine gültige E-Mail-Adresse ein, z. B. name@beispiel.de."),
        ("email", "a b@example.de", "Bitte geben Sie eine gültige E-Mail-Adresse ein, z. B. name@beispiel.de."),
        (
            "betriebsnummer",
            "12a45",
            "Die Betriebsnummer besteht nur aus Ziffern. Sie finden sie auf Ihrem Beitragsbescheid.",
        ),
        ("betriebsnummer", "1" * 21, "Die Betriebsnummer hat höchstens 20 Ziffern."),
        ("betriebsname", "x" * 201, "Bitte kürzen Sie den Namen des Betriebs auf höchstens 200 Zeichen."),
        ("message", "Hilfe!", "Bitte schreiben Sie uns Ihr Anliegen in mindestens 10 Zeichen."),
        ("message", "x" * 5001, "Bitte kürzen Sie Ihre Nachricht auf höchstens 5000 Zeichen."),
        ("message", 42, "Bitte geben Sie einen Text ein."),
    ],
)
async def test_invalid_input_is_a_422_with_the_fields_german_message(client, store, field, value, message):
    response = await post(client, {**VALID, field: value})
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == "invalid_input" and error["message"] == "Bitte prüfen Sie Ihre Eingaben."
    assert error["fields"] == {field: message}
    assert store.mails == {} and store.contacts == []


CONTROL = (
    "Dieses Feld enthält unsichtbare Steuerzeichen. Bitte geben Sie den Text noch einmal ein, "
    "ohne ihn aus einer anderen Anwendung einzufügen."
)


@pytest.mark.parametrize("field", ["name", "email", "betriebsnummer", "betriebsname", "message"])
@pytest.mark.parametrize("character", ["\x00", "\x07", "\x0b", "\x1b", "\x1f", "\x7f", "\x85", "\x9b"])
async def test_control_characters_are_a_422_in_every_field_and_store_nothing(client, store, field, character):
    value = {"email": "erika@example.de" + character, "betriebsnummer": "123" + character + "4567"}.get(
        field, VALID[field][:5] + character + VALID[field][5:]
    )
    response = await post(client, {**VALID, field: value}, user=signed_in())
    assert response.status == 422
    assert (await response.json())["error"]["fields"] == {field: CONTROL}
    assert store.mails == {} and store.contacts == [] and store.transactions == 0


async def test_line_breaks_and_tabs_are_no_control_characters(client, store):
    body = {
        **VALID,
        "name": "Erika\tMüller",
        "betriebsname": "Müller\r\nElektro",
        "message": "Zeile eins\r\n\tZeile zwei\rZeile drei",
    }
    assert (await post(client, body)).status == 202
    (request,) = store.mails.values()
    assert (request.context["name"], request.context["betriebsname"]) == ("Erika Müller", "Müller Elektro")
    assert request.context["message"] == "Zeile eins\n\tZeile zwei\nZeile drei"


async def test_missing_fields_are_named(client, store):
    response = await post(client, {"betriebsnummer": "1"})
    fields = (await response.json())["error"]["fields"]
    assert response.status == 422
    assert fields == dict.fromkeys(("name", "email", "message"), "Bitte füllen Sie dieses Feld aus.")


async def test_an_unsigned_request_is_refused(client, store):
    response = await client.post(URL, json=VALID)
    assert response.status == 403 and store.mails == {}


async def test_input_is_cleaned(client, store):
    body = {
        **VALID,
        "name": "  Erika   Müller ",
        "email": " Erika@Example.DE ",
        "betriebsnummer": " 123 4567 ",
        "message": "\r\n  Zeile eins\r\nZeile zwei  \r\n",
    }
    assert (await post(client, body)).status == 202
    (request,) = store.mails.values()
    assert request.context["reply_to"] == "Erika@example.de" and request.context["name"] == "Erika Müller"
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
    assert len(store.contacts) == 5
    assert (await post(client, VALID, address="192.0.2.99")).status == 202  # another client
    clock.now = NOW + timedelta(hours=1, seconds=1)
    assert (await post(client, {**VALID, "email": "spaeter@example.de"})).status == 202


async def test_one_address_may_be_named_at_most_five_times_an_hour_from_any_client(client, store):
    for n in range(5):
        assert (await post(client, {**VALID, "email": "opfer@example.de"}, address=f"198.51.100.{n}")).status == 202
    response = await post(client, {**VALID, "email": "OPFER@example.de"}, address="198.51.100.77")
    assert response.status == 429
    assert (await response.json())["error"]["code"] == "contact_limit"
    assert sum(m.context["reply_to"].lower() == "opfer@example.de" for m in store.mails.values()) == 5


BUSY = (
    "Über das Kontaktformular erreichen uns gerade sehr viele Nachrichten. Bitte rufen Sie uns an "
    f"unter {PHONE} oder schreiben Sie eine E-Mail an {SUPPORT}."
)


@pytest.mark.parametrize("limits", [contact.Limits(per_hour=3)])
async def test_everyone_together_may_write_only_per_hour_times_an_hour(client, store, clock, limits):
    for n in range(3):
        response = await post(
            client,
            {**VALID, "email": f"n{n}@example.de"},
            address=f"198.51.100.{n}",
            user=signed_in() if n == 0 else "",
        )
        assert response.status == 202
        clock.now += timedelta(minutes=10)
    for user in ("", signed_in()):  # a member too: the cap protects the chamber's mail reputation
        response = await post(client, {**VALID, "email": "neu@example.de"}, address="203.0.113.9", user=user)
        assert response.status == 429
        assert await response.json() == {"error": {"code": "contact_busy", "message": BUSY, "fields": {}}}
        assert int(response.headers["Retry-After"]) == 30 * 60 + 1  # when the first falls out of the hour
    assert len(store.contacts) == 3 and len(store.mails) == 4
    clock.now = NOW + timedelta(hours=1, seconds=1)
    assert (await post(client, {**VALID, "email": "neu@example.de"}, address="203.0.113.9")).status == 202


async def test_the_global_count_is_read_under_a_lock_taken_after_the_senders_own(client, store):
    """One order for every request (client, address, everyone), so two requests never wait on each other."""
    assert (await post(client, VALID)).status == 202
    assert store.locks == ["client:192.0.2.1", "address:erika@example.de", "everyone"]


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


def test_the_cap_for_everyone_counts_the_last_hour():
    limits = contact.Limits(per_hour=3)
    latest = [NOW - timedelta(minutes=m) for m in (5, 15, 45)]
    assert contact.wait_for_everyone(latest, NOW, limits) == timedelta(minutes=15)
    assert contact.wait_for_everyone(latest[:2], NOW, limits) is None
    assert contact.wait_for_everyone([NOW - timedelta(minutes=61)] * 3, NOW, limits) is None
    assert contact.Limits().per_hour == 100


@pytest.mark.parametrize("value", ["erika@example.de", "e.r+ka@sub.example.de", "x@müller.de"])
def test_valid_addresses(value):
    assert contact.clean_contact_email(value) == value


@pytest.fixture
def sent(composer):
    """A contact request's mails, composed and parsed back from their bytes."""

    def compose(member=MEMBER, **changes):
        request = contact.ContactRequest(**{**VALID, **changes})
        mails = contact.mails_for_contact(request, uuid4(), SUPPORT, NOW, member)
        parsed = []
        for mail in mails:
            queued = domain.QueuedMail(uuid4(), mail.kind, mail.recipient, mail.context, mail.sealed, 1, NOW)
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
        assert "anna.muster@example.de" in part  # signed in as
    assert "Mit freundlichen Grüßen" not in text  # an internal notice, not a letter
    assert copy["Reply-To"] is None


def test_support_sees_an_anonymous_sender_is_not_signed_in(sent):
    (request,) = sent(member=None)
    text, html = text_and_html(request)
    for part in (text, html):
        assert "nicht angemeldet" in part


def test_the_copy_to_the_signed_in_member(sent):
    _, copy = sent(email="buero@example.de")
    assert copy["To"] == "anna.muster@example.de"
    assert copy["Subject"] == "Ihre Nachricht an die Handwerkskammer"
    text, html = text_and_html(copy)
    for part in (text, html):
        assert "Guten Tag Anna Muster," in part and "Wir melden uns schnellstmöglich." in part
        assert "Ich finde meine PIN nicht mehr." in part and "buero@example.de" in part
        assert "Passwort ändern" in part  # if it was not them, someone else used their account
        assert "Noch Fragen? Kontaktieren Sie uns!" in part


def test_the_message_is_escaped_in_html_and_plain_in_text(sent):
    evil = '<script>alert("x")</script>\n<a href="https://evil.example">Klick</a> & Co.'
    for message in sent(message=evil, name="<b>Erika</b>", betriebsname="A & B <GmbH>"):
        text, html = text_and_html(message)
        assert evil in text
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


def test_the_reply_to_cannot_carry_a_header():
    with pytest.raises(ValueError):
        contact.clean_contact_email("erika@example.de\r\nBcc: alle@example.de")


def test_a_request_queued_before_the_copy_rule_still_reaches_support(composer):
    """Rows queued by the previous version have no `account_email`: support still gets them."""
    request = contact.ContactRequest(**VALID)
    (mail,) = contact.mails_for_contact(request, uuid4(), SUPPORT, NOW, None)
    context = {k: v for k, v in mail.context.items() if k != "account_email"}
    message = composer.compose(domain.QueuedMail(uuid4(), mail.kind, mail.recipient, context, {}, 1, NOW), NOW)
    assert "Angemeldet als: nicht angemeldet" in message.get_body(("plain",)).get_content()
