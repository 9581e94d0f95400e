"""The mails of unlinking and of staff changes, on real NATS, Postgres and SMTP: each arrives at
the mail server with its wording and recipient; an account erased by staff hears it once and is
then gone from notifications' schema; a user event that comes after the erasure brings nobody
back; and staff see what became of the mails to an address, with the server's refusal."""

from datetime import date, timedelta
from uuid import UUID, uuid4

import pytest

from contracts import (
    PinRequestedV1,
    PinUnlinkedV1,
    PostalAddress,
    UserChangedByStaffV1,
    UserConfirmedV1,
    UserDeletedV1,
    UserPasswordResetRequestedV1,
    UserRegisteredV1,
)
from runtime import db
from runtime.crypto import generate_keypair, random_token, seal
from services.notifications import housekeeping
from services.notifications.app import MIGRATIONS, SCHEMA
from tests.support.client import new_email, query
from tests.support.identity import signed
from tests.support.mail import extract_password, extract_token_link
from tests.support.notifications import notifications_in_process, own_nats, publish
from tests.support.refusing_mail import RefusingMailCatcher
from tests.support.wait import until

pytestmark = pytest.mark.integration

NOWHERE = new_email("nobody-there")  # the mail server refuses this mailbox with 550
MAIL_PATH = "/api/v1/notifications/staff/mails"


@pytest.fixture(scope="module")
async def smtp():
    catcher = RefusingMailCatcher({NOWHERE})
    await catcher.start()
    yield catcher
    await catcher.stop()


@pytest.fixture(scope="module")
async def bus(tmp_path_factory):
    async for server in own_nats(tmp_path_factory.mktemp("staff-mails")):
        yield server


@pytest.fixture(scope="module")
async def app(postgres, bus, smtp):
    async for client in notifications_in_process(postgres, bus, smtp, support_email="support@hwk.example"):
        client.bus = bus
        yield client


def person(prefix: str = "staffmail") -> dict:
    return {"user_id": uuid4(), "email": new_email(prefix), "first_name": "Erika", "last_name": "Quastwendel"}


async def known(app, smtp, who: dict) -> None:
    """The member registered: notifications knows them (the confirmation mail is out)."""
    link = seal(app.public_key, f"http://portal.test/registrierung/bestaetigen?token={random_token()}")
    registered = UserRegisteredV1(
        **who, confirmation_link=link, link_expires_at=app.clock.now + timedelta(hours=24), occurred_at=app.clock.now
    )
    await publish_one(app, registered)
    await smtp.wait_for(lambda m: m.to == who["email"], timeout=20)


async def publish_one(app, event) -> None:
    await publish(app.bus, event)


async def handled(app, event_id: UUID) -> bool:
    return bool(await query(app.dsn, "select 1 from notifications.processed_events where event_id = $1", event_id))


async def staff_view(app, email: str, role: str = "staff") -> tuple[int, dict]:
    path = f"{MAIL_PATH}?email={email}"
    async with app.get(path, **signed("GET", path, user=f"{uuid4()}:{uuid4()}:0:{role}")) as answer:
        return answer.status, await answer.json()


async def test_an_ended_link_is_told_to_the_member_and_the_business(app, smtp) -> None:
    member = person()
    await known(app, smtp, member)
    business = new_email("betrieb")
    event = PinUnlinkedV1(
        user_id=member["user_id"],
        betriebsnummer="7654321",
        business_name="Dachdeckerei Lotz",
        unlinked_by="staff",
        unlinked_at=app.clock.now,
        business_email=business,
    )
    await publish_one(app, event)
    mine = await smtp.wait_for(lambda m: m.to == member["email"] and "Verknüpfung" in m.subject, timeout=20)
    theirs = await smtp.wait_for(lambda m: m.to == business, timeout=20)
    assert mine.subject == "Die Verknüpfung mit Ihrem Betrieb wurde gelöst"
    assert "die Handwerkskammer hat die Verknüpfung" in mine.text and "Dachdeckerei Lotz" in mine.text
    assert "support@hwk.example" in mine.text
    assert theirs.subject == "Ein Zugang zum Kundenportal für Ihren Betrieb wurde beendet"
    assert "7654321" in theirs.text and "Erika Quastwendel" in theirs.text and "der Handwerkskammer" in theirs.text
    assert member["email"] not in theirs.text + theirs.html
    await publish_one(app, event)  # again: JetStream drops it, the inbox would too
    rows = await query(app.dsn, "select kind from notifications.mails where source_event_id = $1", event.event_id)
    assert sorted(r["kind"] for r in rows) == ["business_unlinked", "member_unlinked"]


async def test_every_change_by_staff_is_told_to_the_member(app, smtp) -> None:
    member = person()
    await known(app, smtp, member)
    subjects = {
        "throttle_lifted": "Ihre Anmeldung ist wieder freigegeben",
        "deactivated": "Ihr Konto im Kundenportal wurde gesperrt",
        "reactivated": "Ihr Konto im Kundenportal ist wieder freigeschaltet",
    }
    for change in subjects:
        await publish_one(app, UserChangedByStaffV1(user_id=member["user_id"], change=change, changed_at=app.clock.now))
    for change, subject in subjects.items():
        mail = await smtp.wait_for(lambda m, s=subject: m.to == member["email"] and m.subject == s, timeout=20)
        assert "Guten Tag Erika Quastwendel" in mail.text and "support@hwk.example" in mail.text
    deactivated = smtp.find(lambda m: m.to == member["email"] and m.subject == subjects["deactivated"])[0]
    assert "warum Ihr Konto gesperrt wurde" in deactivated.text


async def test_a_staff_account_is_invited_and_a_reissued_password_says_so(app, smtp) -> None:
    staff, member = person("kollegin"), person()
    setup = f"http://portal.test/passwort-zuruecksetzen?token={random_token()}"
    await publish_one(
        app,
        UserPasswordResetRequestedV1(
            **staff,
            reset_link=seal(app.public_key, setup),
            link_expires_at=app.clock.now + timedelta(hours=72),
            purpose="staff_setup",
        ),
    )
    await publish_one(
        app,
        UserConfirmedV1(
            **member,
            initial_password=seal(app.public_key, "Xy7kPq3mZt9R"),
            initial_password_expires_at=app.clock.now + timedelta(days=14),
            reissued_by_staff=True,
        ),
    )
    invitation = await smtp.wait_for(lambda m: m.to == staff["email"], timeout=20)
    assert invitation.subject == "Ihr Mitarbeiterkonto im Kundenportal"
    assert extract_token_link(invitation.text) == setup
    assert "Authenticator-App" in invitation.text
    password = await smtp.wait_for(lambda m: m.to == member["email"], timeout=20)
    assert password.subject == "Ihr neues Passwort für das Kundenportal"
    assert extract_password(password.text) == "Xy7kPq3mZt9R" and "auf Ihre Anfrage" in password.text


async def test_a_letter_staff_sent_mails_nobody(app, smtp) -> None:
    event = PinRequestedV1(
        request_id=uuid4(),
        betriebsnummer="7654321",
        business_name="Dachdeckerei Lotz",
        address=PostalAddress(street="Ringstraße 9", postal_code="65183", city="Wiesbaden"),
        pin=seal(generate_keypair()[0], "K7QM-4XPA"),
        valid_until=date.today() + timedelta(days=30),
        reason="staff_request",
    )
    await publish_one(app, event)
    await until(lambda: handled(app, event.event_id), "the staff's letter handled")
    assert await query(app.dsn, "select 1 from notifications.mails where source_event_id = $1", event.event_id) == []


async def test_an_account_erased_by_staff_hears_it_once_then_nothing_of_it_is_left(app, smtp) -> None:
    member = person()
    member["first_name"], member["last_name"] = "Wendelin", f"Zerg{uuid4().hex[:8]}"
    await known(app, smtp, member)
    await publish_one(app, UserDeletedV1(user_id=member["user_id"], deleted_at=app.clock.now, deleted_by="staff"))
    last = await smtp.wait_for(lambda m: m.to == member["email"] and "gelöscht" in m.subject, timeout=20)
    assert last.subject == "Ihr Konto wurde von der Handwerkskammer gelöscht"
    assert "support@hwk.example" in last.text and member["last_name"] in last.text

    async def forgotten():
        rows = await query(app.dsn, "select state, recipient from notifications.mails where kind = 'account_erased'")
        return rows if rows and all(r["state"] == "sent" for r in rows) else None

    await until(forgotten, "the last mail recorded as sent")
    dump = await everything(app)
    left = [n for n in (member["email"], member["last_name"], member["first_name"]) if n.lower() in dump.lower()]
    print(f"staff erasure: mails to the member {smtp.count(lambda m: m.to == member['email'])}, traces left {left}")
    assert left == []
    assert smtp.count(lambda m: m.to == member["email"] and "gelöscht" in m.subject) == 1


async def test_a_late_user_event_does_not_bring_an_erased_member_back(app, smtp) -> None:
    member = person()
    deleted = UserDeletedV1(user_id=member["user_id"], deleted_at=app.clock.now, deleted_by="member")
    late = UserConfirmedV1(
        **member,
        initial_password=seal(app.public_key, "Xy7kPq3mZt9R"),
        initial_password_expires_at=app.clock.now + timedelta(days=14),
        occurred_at=app.clock.now - timedelta(minutes=5),
    )
    await publish_one(app, deleted)
    await until(lambda: handled(app, deleted.event_id), "the deletion handled")
    await publish_one(app, late)
    await until(lambda: handled(app, late.event_id), "the late confirmation handled")
    assert await query(app.dsn, "select 1 from notifications.recipients where user_id = $1", member["user_id"]) == []
    assert (
        await query(app.dsn, "select 1 from notifications.mails where lower(recipient) = lower($1)", member["email"])
        == []
    )
    assert smtp.count(lambda m: m.to == member["email"]) == 0


async def test_staff_see_what_became_of_the_mails_to_an_address(app, smtp) -> None:
    member = {**person(), "email": NOWHERE}
    sender = person()
    await known(app, smtp, sender)
    link = seal(app.public_key, f"http://portal.test/passwort-zuruecksetzen?token={random_token()}")
    refused = UserPasswordResetRequestedV1(
        **member, reset_link=link, link_expires_at=app.clock.now + timedelta(hours=1), occurred_at=app.clock.now
    )
    await publish_one(app, refused)

    async def failed():
        rows = await query(
            app.dsn, "select state from notifications.mails where source_event_id = $1", refused.event_id
        )
        return rows and rows[0]["state"] == "failed"

    await until(failed, "the refused mail failed for good")
    status, body = await staff_view(app, NOWHERE.upper())
    assert status == 200, body
    [mail] = body["mails"]
    assert (mail["kind"], mail["kind_label"]) == ("password_reset", "Passwort zurücksetzen")
    assert (mail["state"], mail["state_label"]) == ("failed", "Fehlgeschlagen")
    assert "550" in mail["last_error"] and "User unknown" in mail["last_error"]
    assert "token" not in str(body) and "context" not in mail and "sealed" not in mail
    status, body = await staff_view(app, sender["email"])
    assert status == 200 and [(m["state"], m["state_label"]) for m in body["mails"]] == [("sent", "Versandt")]
    assert body["mails"][0]["sent_at"] is not None and body["mails"][0]["last_error"] is None


@pytest.mark.parametrize(("role", "code"), [("member", "staff_only"), ("staff_pending", "second_factor_required")])
async def test_only_staff_past_the_second_factor_see_the_mails(app, role, code) -> None:
    status, body = await staff_view(app, NOWHERE, role=role)
    assert (status, body["error"]["code"]) == (403, code)
    path = f"{MAIL_PATH}?email={NOWHERE}"
    async with app.get(path, **signed("GET", path)) as answer:
        assert answer.status == 401
    status, body = await staff_view(app, "")
    assert status == 422 and "email" in body["error"]["fields"]


async def everything(app) -> str:
    """Every text and JSON value in notifications' schema, as one string."""
    columns = await query(
        app.dsn,
        "select table_name, column_name from information_schema.columns join information_schema.tables"
        " using (table_schema, table_name) where table_schema = 'notifications' and table_type = 'BASE TABLE'"
        " and data_type in ('text', 'character varying', 'jsonb', 'json')",
    )
    assert len(columns) > 5
    values = []
    for c in columns:
        rows = await query(app.dsn, f'select "{c["column_name"]}"::text as v from notifications."{c["table_name"]}"')
        values += [r["v"] or "" for r in rows]
    return "\n".join(values)


async def test_tombstones_go_once_no_late_event_can_come(app) -> None:
    pool = await db.create_pool(app.dsn, SCHEMA, MIGRATIONS)
    try:
        now = app.clock.now
        due, kept = uuid4(), uuid4()
        old = now - housekeeping.TOMBSTONES - timedelta(seconds=1)
        young = now - housekeeping.TOMBSTONES + timedelta(hours=1)
        await pool.executemany("insert into tombstones values ($1, $2)", [(due, old), (kept, young)])
        counts = await housekeeping.sweep(pool, lambda: now)
        left = {
            r["user_id"]
            for r in await pool.fetch("select user_id from tombstones where user_id = any($1)", [due, kept])
        }
    finally:
        await pool.close()
    print(f"tombstones kept {housekeeping.TOMBSTONES.days} days; swept {counts['tombstones']}")
    assert counts["tombstones"] >= 1 and left == {kept}
    assert housekeeping.TOMBSTONES == timedelta(days=31)  # 30 days in the stream + 15.4 h of redelivery, rounded up
