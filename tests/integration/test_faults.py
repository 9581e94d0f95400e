"""Faults lose nothing and duplicate nothing: a service killed, NATS or Postgres restarted, SMTP
down, accounts unreachable — each while registrations are in flight."""

import asyncio
import os
import signal

import pytest

from tests.support.client import Client, new_email, query
from tests.support.wait import until

pytestmark = pytest.mark.integration

PERSON = {"first_name": "Erika", "last_name": "Mustermann", "birth_date": "1979-05-04"}


async def register(client: Client, email: str) -> int:
    status, _ = await client.api("POST", "/api/v1/accounts/registrations", {**PERSON, "email": email})
    return status


async def all_confirmations_arrive_once(portal, emails: list[str]) -> None:
    wanted = set(emails)
    for email in emails:
        await portal.mail.wait_for(lambda m, e=email: m.to == e and "token=" in m.text, timeout=60)
    # Everything the portal owes is out: no event waits in the outbox, no mail in the queue.
    outbox = await query(portal.database_url, "select count(*) as n from accounts.outbox where published_at is null")
    queued = await query(portal.database_url, "select count(*) as n from notifications.mails where state <> 'sent'")
    assert outbox[0]["n"] == 0 and queued[0]["n"] == 0
    counts = {e: portal.mail.count(lambda m, e=e: m.to == e) for e in wanted}
    assert counts == dict.fromkeys(wanted, 1)


async def kill_between_mails(portal) -> None:
    """SIGKILL notifications — at a moment it holds no claimed mail.

    The one case no mail system can settle is a crash after the SMTP server accepted a mail and
    before the sender recorded it (RFC 1047); such a resend keeps its Message-ID. This test is
    about everything else: events in flight, consumers, the queue. So it freezes the process,
    checks that no mail is mid-send, and kills it then.
    """
    process = portal.services["notifications"]
    for _ in range(500):
        os.kill(process.pid, signal.SIGSTOP)
        rows = await query(
            portal.database_url, "select count(*) as n from notifications.mails where state = 'processing'"
        )
        if rows[0]["n"] == 0:
            await process.kill()
            return
        os.kill(process.pid, signal.SIGCONT)
        await asyncio.sleep(0.002)  # let it finish the mail it holds
    raise AssertionError("notifications never paused between two mails")


async def test_notifications_killed_while_registrations_are_in_flight(portal_factory) -> None:
    portal = await portal_factory()
    emails = [new_email("kill") for _ in range(40)]
    async with Client(portal.gateway_url) as client:
        first = asyncio.gather(*(register(client, e) for e in emails[:25]))
        await portal.mail.wait_for(lambda m: m.to in emails, timeout=30)
        await kill_between_mails(portal)
        assert set(await first) == {202}
        assert {await register(client, e) for e in emails[25:]} == {202}  # while it is down
        await portal.services["notifications"].start()
        await portal.services["notifications"].wait_ready()
    await all_confirmations_arrive_once(portal, emails)


async def test_nats_restarted_while_registrations_are_in_flight(portal_factory) -> None:
    portal = await portal_factory()
    emails = [new_email("nats") for _ in range(30)]
    async with Client(portal.gateway_url) as client:
        first = asyncio.gather(*(register(client, e) for e in emails[:15]))
        await portal.nats.terminate()
        assert {await register(client, e) for e in emails[15:]} == {202}  # accounts needs no NATS to answer
        await portal.nats.start()
        assert set(await first) == {202}
    await all_confirmations_arrive_once(portal, emails)


async def test_postgres_restarted_while_registrations_are_in_flight(portal_factory) -> None:
    portal = await portal_factory()
    emails = [new_email("pg") for _ in range(30)]
    async with Client(portal.gateway_url) as client:
        first = asyncio.gather(*(register(client, e) for e in emails[:15]))
        await portal.postgres.restart()
        answers = dict(zip(emails[:15], await first, strict=True))
        # Cut off mid-request a registration may fail — with a 503 and a German message, never a 500.
        assert set(answers.values()) <= {202, 503}
        for email in emails[15:]:
            answers[email] = await register(client, email)
        for email, status in list(answers.items()):
            if status == 503:
                answers[email] = await register(client, email)
        assert set(answers.values()) == {202}
    await all_confirmations_arrive_once(portal, emails)


async def test_smtp_down_then_back(portal_factory, mail) -> None:
    portal = await portal_factory(env={"notifications": {"PORTAL_MAIL_FIRST_RETRY_SECONDS": "0.5"}})
    emails = [new_email("smtp") for _ in range(5)]
    await mail.stop_smtp()
    async with Client(portal.gateway_url) as client:
        assert {await register(client, e) for e in emails} == {202}

    async def all_failed_once():
        rows = await query(
            portal.database_url, "select last_error from notifications.mails where attempts > 0 and state = 'queued'"
        )
        return rows if len(rows) == len(emails) else None

    failed = await until(all_failed_once, "every mail tried and put back to wait")
    assert all(row["last_error"] for row in failed)
    assert portal.mail.count(lambda m: m.to in emails) == 0
    await mail.start_smtp()
    await all_confirmations_arrive_once(portal, emails)


async def test_an_unreachable_service_gives_a_german_503_at_once(portal_factory) -> None:
    portal = await portal_factory()
    await portal.services["accounts"].kill()
    async with Client(portal.gateway_url) as client:
        status, body = await client.api("POST", "/api/v1/accounts/registrations", {**PERSON, "email": new_email()})
        page_status, html, _ = await client.page("POST", "/registrieren", {**PERSON, "email": new_email()})
    assert status == 503 and body["error"]["code"] == "service_unavailable"
    assert "nicht erreichbar" in body["error"]["message"]
    assert page_status == 503 and "nicht erreichbar" in html
