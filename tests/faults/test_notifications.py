"""Notifications under faults: killed with -9 in the middle of a burst, and SMTP away for 72 hours.

Each scenario prints what it measured (lost, duplicated, resent, recovery time); `pytest -s`
shows it. The 72 hours pass on the app's clock, not the wall's: notifications runs in this
process on real Postgres, NATS and the mail catcher, and the test moves its clock.
"""

import asyncio
import os
import signal
from datetime import date, timedelta
from uuid import uuid4

import pytest
from prometheus_client import REGISTRY

from contracts import (
    PinLinkedV1,
    PinRequestedV1,
    PostalAddress,
    UserConfirmedV1,
    UserPasswordChangedV1,
    UserPasswordResetRequestedV1,
    UserRegisteredV1,
    UserRegistrationRepeatedV1,
)
from runtime.crypto import generate_keypair, random_token, seal
from services.notifications import domain, schedule
from tests.support.client import Client, new_email, query
from tests.support.identity import signed
from tests.support.notifications import notifications_in_process, own_nats, publish, wake
from tests.support.wait import until

pytestmark = pytest.mark.integration

PERSON = {"first_name": "Erika", "last_name": "Mustermann", "birth_date": "1979-05-04"}
RESTART_BUDGET = 30.0  # seconds from notifications' restart until the last mail is out


async def register(client: Client, email: str) -> int:
    status, _ = await client.api("POST", "/api/v1/accounts/registrations", {**PERSON, "email": email})
    return status


async def everything_out(portal) -> bool:
    """No event waits in accounts' outbox, no mail in the queue."""
    outbox = await query(portal.database_url, "select count(*) as n from accounts.outbox where published_at is null")
    unsent = await query(portal.database_url, "select count(*) as n from notifications.mails where state <> 'sent'")
    return outbox[0]["n"] == 0 and unsent[0]["n"] == 0


async def kill_while_it_holds_unsent_mails(portal) -> tuple[dict[str, str], set[str]]:
    """SIGKILL notifications at a moment it holds claimed mails (under its lease) that the server
    has not got yet; return the Message-IDs of all it held, by recipient, and the recipients of
    those not sent. Frozen first, so what the table and the mail catcher say is what it held and
    what it had sent."""
    process = portal.services["notifications"]
    for _ in range(200):
        seen = portal.mail.mark()
        os.kill(process.pid, signal.SIGSTOP)
        rows = await query(
            portal.database_url, "select recipient, message_id from notifications.mails where state = 'processing'"
        )
        delivered = {m.message_id for m in portal.mail.find()}
        unsent = {row["recipient"] for row in rows if row["message_id"] not in delivered}
        if unsent:
            await process.kill()
            return {row["recipient"]: row["message_id"] for row in rows}, unsent
        os.kill(process.pid, signal.SIGCONT)
        await portal.mail.wait_for(since=seen, timeout=10)  # it sent one more: look again
    raise AssertionError("notifications was never caught holding a mail it had not sent")


async def test_notifications_killed_mid_burst_sends_every_mail_within_30_s_of_its_restart(portal_factory) -> None:
    portal = await portal_factory()
    emails = [new_email("burst") for _ in range(50)]
    wanted = set(emails)
    async with Client(portal.gateway_url) as client:
        burst = asyncio.gather(*(register(client, e) for e in emails[:40]))
        await portal.mail.wait_for(lambda m: m.to in wanted, timeout=30)
        held, unsent = await kill_while_it_holds_unsent_mails(portal)
        assert set(await burst) == {202}
        assert {await register(client, e) for e in emails[40:]} == {202}  # while it is down
    loop = asyncio.get_running_loop()
    restarted = loop.time()
    await portal.services["notifications"].start()

    async def all_out() -> bool:
        arrived = {m.to for m in portal.mail.find(lambda m: m.to in wanted)}
        return arrived == wanted and await everything_out(portal)

    # Out means sent and recorded: the mails it held when it died too, not only one mail each.
    await until(all_out, "every mail sent, nothing left in the queue", timeout=RESTART_BUDGET + 10)
    recovery = loop.time() - restarted

    ids = {e: [m.message_id for m in portal.mail.find(lambda m, e=e: m.to == e)] for e in emails}
    lost = [e for e, found in ids.items() if not found]
    duplicated = [e for e, found in ids.items() if len(set(found)) > 1]  # a second, different mail
    resent = {e: found for e, found in ids.items() if len(found) > len(set(found))}  # the same Message-ID again
    print(
        f"\nkill -9 of notifications holding {len(held)} claimed mail(s), {len(unsent)} not sent yet, 50 registrations: "
        f"lost {len(lost)}, duplicated {len(duplicated)}, resent with the same Message-ID {len(resent)} "
        f"(the SMTP window), all mails out {recovery:.1f} s after the restart (lease {schedule.LEASE.seconds} s, "
        f"renewed every {schedule.HEARTBEAT.seconds} s)"
    )
    assert lost == [] and duplicated == []
    # Only the mail it was sending when it died may come twice: the server's 250 can precede the
    # commit that records it (RFC 1047). It carries the same Message-ID, and it is one at most.
    assert len(resent) <= 1 and all(held.get(e) == found[0] for e, found in resent.items())
    assert recovery <= RESTART_BUDGET


async def test_smtp_down_then_back(portal_factory, mail) -> None:
    portal = await portal_factory(env={"notifications": {"PORTAL_MAIL_FIRST_RETRY_SECONDS": "0.5"}})
    emails = [new_email("smtp") for _ in range(5)]
    await mail.stop_smtp()
    async with Client(portal.gateway_url) as client:
        answers = [await client.api("POST", "/api/v1/accounts/registrations", {**PERSON, "email": e}) for e in emails]
        assert {status for status, _ in answers} == {202}, answers

    async def all_failed_once():
        rows = await query(
            portal.database_url, "select last_error from notifications.mails where attempts > 0 and state = 'queued'"
        )
        return rows if len(rows) == len(emails) else None

    failed = await until(all_failed_once, "every mail tried and put back to wait")
    assert all(row["last_error"] for row in failed)
    assert portal.mail.count(lambda m: m.to in emails) == 0
    loop = asyncio.get_running_loop()
    back = loop.time()
    await mail.start_smtp()
    await until(lambda: everything_out(portal), "every mail sent once SMTP is back", timeout=60)
    counts = {e: portal.mail.count(lambda m, e=e: m.to == e and "token=" in m.text) for e in emails}
    lost = sum(1 for n in counts.values() if n == 0)
    duplicated = sum(n - 1 for n in counts.values() if n > 1)
    print(f"\nSMTP down, then back: lost {lost}, duplicated {duplicated}, all out {loop.time() - back:.1f} s after")
    assert counts == dict.fromkeys(emails, 1)


# --- SMTP down for 72 hours ----------------------------------------------------------------------

# Order of urgency once SMTP is back: the short-lived reset link first, then what a member needs
# to get in at all, then notices.
URGENT, NEEDED, NOTICE = 0, 1, 2
GROUP = {
    domain.PASSWORD_RESET: URGENT,
    domain.REGISTRATION_CONFIRMATION: NEEDED,
    domain.INITIAL_PASSWORD: NEEDED,
}


@pytest.fixture
async def bus(test_output):
    async for server in own_nats(test_output):
        yield server


@pytest.fixture
async def notifications(postgres, bus, mail):
    support = new_email("support")
    async for client in notifications_in_process(postgres, bus, mail, support_email=support):
        client.support_email = support
        yield client


def person() -> dict:
    return {"user_id": uuid4(), "email": new_email("outage"), "first_name": "Erika", "last_name": "Mustermann"}


class Outage:
    """The mails of the scenario, and when each one's purpose ends (None: after the 72 hours)."""

    def __init__(self, app) -> None:
        self.app = app
        self.start = app.clock.now
        self.purpose_ends: dict[tuple[str, str], object] = {}  # (recipient, kind) -> datetime | None

    def expect(self, recipient: str, kind: str, ends=None) -> None:
        self.purpose_ends[(recipient, kind)] = ends

    def link(self, path: str) -> str:
        return seal(self.app.public_key, f"http://portal.test/{path}?token={random_token()}")

    def registered(self, hours_valid: float) -> UserRegisteredV1:
        now = self.app.clock.now
        event = UserRegisteredV1(
            **person(),
            occurred_at=now,
            confirmation_link=self.link("registrierung/bestaetigen"),
            link_expires_at=now + timedelta(hours=hours_valid),
        )
        self.expect(event.email, domain.REGISTRATION_CONFIRMATION, event.link_expires_at)
        return event

    def reset(self, minutes_valid: float) -> UserPasswordResetRequestedV1:
        now = self.app.clock.now
        event = UserPasswordResetRequestedV1(
            **person(),
            occurred_at=now,
            reset_link=self.link("passwort-zuruecksetzen"),
            link_expires_at=now + timedelta(minutes=minutes_valid),
        )
        self.expect(event.email, domain.PASSWORD_RESET, event.link_expires_at)
        return event

    async def rows(self) -> list:
        return await query(
            self.app.dsn,
            "select recipient, kind, state, attempts, next_attempt_at, message_id, created_at from notifications.mails",
        )

    async def advance_to(self, hours: float) -> None:
        self.app.clock.now = self.start + timedelta(hours=hours)
        await wake(self.app.dsn)

    async def settled(self) -> list | None:
        """Every mail there, tried as often as its schedule asks by now, and in the state its
        purpose says: waiting while it is useful, expired once it is not."""
        now = self.app.clock.now
        rows = await self.rows()
        if {(r["recipient"], r["kind"]) for r in rows} != set(self.purpose_ends):
            return None
        for row in rows:
            ends = self.purpose_ends[(row["recipient"], row["kind"])]
            wanted = "expired" if ends is not None and ends <= now else "queued"
            due = row["state"] == "queued" and row["next_attempt_at"] <= now
            if row["state"] != wanted or due or row["attempts"] == 0:
                return None
        return rows


async def test_smtp_down_for_72_hours_abandons_nothing_still_useful(notifications, bus, mail) -> None:
    app = notifications
    outage = Outage(app)
    await mail.stop_smtp()
    member, repeated, confirmed = person(), person(), person()
    reset, registered = outage.reset(minutes_valid=60), outage.registered(hours_valid=48)
    await publish(
        bus,
        UserPasswordChangedV1(**member, changed_at=app.clock.now, how="changed"),
        UserRegistrationRepeatedV1(**repeated),
        registered,
        reset,
        UserConfirmedV1(
            **confirmed,
            initial_password=seal(app.public_key, "Xy7kPq3mZt9R"),
            initial_password_expires_at=app.clock.now + timedelta(days=14),
        ),
    )
    outage.expect(member["email"], domain.PASSWORD_CHANGED)
    outage.expect(repeated["email"], domain.ALREADY_REGISTERED)
    outage.expect(confirmed["email"], domain.INITIAL_PASSWORD)

    async def member_known():
        return await query(app.dsn, "select 1 from notifications.recipients where email = $1", member["email"])

    await until(member_known, "the member in the recipients projection")  # the pin events name them by id
    business = new_email("betrieb")
    letter = {
        "request_id": uuid4(),
        "betriebsnummer": "1234567",
        "business_name": "Muster Dachdeckerei GmbH",
        "address": PostalAddress(street="Wilhelmstraße 1", postal_code="65185", city="Wiesbaden"),
        "pin": seal(generate_keypair()[0], "K7QM-4XPA"),  # sealed to the print shop, not read here
        "valid_until": date.today() + timedelta(days=30),
    }
    await publish(
        bus,
        PinRequestedV1(**letter, reason="user_request", requested_by_user_id=member["user_id"]),
        PinLinkedV1(
            user_id=member["user_id"],
            betriebsnummer="1234567",
            business_name="Muster Dachdeckerei GmbH",
            linked_at=app.clock.now,
            business_email=business,
        ),
    )
    outage.expect(member["email"], domain.PIN_LETTER_ON_ITS_WAY)
    outage.expect(member["email"], domain.MEMBER_LINKED)
    outage.expect(business, domain.BUSINESS_LINKED)
    path = "/api/v1/notifications/contact"
    form = {"name": "Erika Mustermann", "email": new_email("kontakt"), "message": "Wo finde ich meine Betriebsnummer?"}
    async with app.post(path, **signed("POST", path, form)) as answer:
        assert answer.status == 202
    outage.expect(app.support_email, domain.CONTACT_REQUEST)

    # As the worker sees it: around each purpose's end, and every few hours between.
    steps = [0, 0.98, 1.02, 6, 12, 18, 24, 30, 36, 42, 47.9, 48.1, 54, 60, 66, 70, 71.5, 72]
    for hours in steps:
        await outage.advance_to(hours)
        if hours == 70:  # registered during the outage, still useful when SMTP is back
            await publish(bus, outage.registered(hours_valid=48))
        if hours == 71.5:
            await publish(bus, outage.reset(minutes_valid=60))
        rows = await until(outage.settled, f"every mail tried and in its state at {hours} h", timeout=15)
        waiting = [r for r in rows if r["state"] == "queued"]
        # Retried at least hourly while it waits: the backoff is capped.
        assert all(r["next_attempt_at"] <= app.clock.now + timedelta(hours=1) for r in waiting)
    ours = {r["message_id"] for r in rows}
    assert mail.count(lambda m: m.message_id in ours) == 0
    expired = {r["message_id"]: r for r in rows if r["state"] == "expired"}
    assert sorted((r["recipient"], r["kind"]) for r in expired.values()) == sorted(
        [(reset.email, domain.PASSWORD_RESET), (registered.email, domain.REGISTRATION_CONFIRMATION)]
    )

    def depth(state: str, kind: str) -> float | None:
        return REGISTRY.get_sample_value("portal_mail_queue_depth", {"state": state, "kind": kind})

    async def gauge_agrees() -> bool:
        wanted = {("expired", domain.PASSWORD_RESET): 1, ("queued", domain.INITIAL_PASSWORD): 1}
        wanted |= {("queued", domain.PASSWORD_RESET): 1, ("failed", domain.PASSWORD_RESET): 0}
        return all(depth(*labels) == count for labels, count in wanted.items())

    await until(gauge_agrees, "portal_mail_queue_depth by state and kind")

    # SMTP is back. The first retry that comes due finds it; everything waiting goes out at once
    # behind it, most urgent first, not each at its own retry time.
    await mail.start_smtp()
    useful = {r["message_id"]: r for r in waiting}
    probe_at = min(r["next_attempt_at"] for r in waiting)
    probes = {i for i, r in useful.items() if r["next_attempt_at"] == probe_at}
    loop = asyncio.get_running_loop()
    back = loop.time()
    app.clock.now = probe_at
    await wake(app.dsn)

    async def drained() -> bool:
        return all(r["state"] in ("sent", "expired") for r in await outage.rows())

    await until(drained, "the queue drained")
    drain = loop.time() - back
    order = [m.message_id for m in mail.find(lambda m: m.message_id in ours)]
    lost = set(useful) - set(order)
    duplicated = len(order) - len(set(order))
    print(
        f"\nSMTP down 72 h: {len(useful)} mails kept while useful, {len(expired)} expired with their purpose "
        f"({', '.join(sorted(r['kind'] for r in expired.values()))}); once back: lost {len(lost)}, "
        f"duplicated {duplicated}, expired ones sent {len(set(order) & set(expired))}, "
        f"drained {drain:.1f} s after the first retry found it, in this order: "
        + ", ".join(useful[i]["kind"] + (" (the retry that found it)" if i in probes else "") for i in order)
    )
    assert lost == set() and duplicated == 0 and not set(order) & set(expired)
    behind_probe = [i for i in order if i not in probes]
    groups = [GROUP.get(useful[i]["kind"], NOTICE) for i in behind_probe]
    assert groups == sorted(groups), [useful[i]["kind"] for i in behind_probe]
    needed = [i for i in behind_probe if GROUP.get(useful[i]["kind"]) == NEEDED]
    assert needed == sorted(needed, key=lambda i: useful[i]["created_at"])  # then oldest first
