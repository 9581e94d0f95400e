"""Faults lose nothing and duplicate nothing: NATS or Postgres restarted, accounts unreachable —
each while registrations are in flight. Notifications killed and SMTP down:
tests/faults/test_notifications.py."""

import asyncio

import pytest

from tests.support.client import Client, new_email, query

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


async def test_an_unreachable_service_gives_a_german_503_at_once(portal_factory) -> None:
    portal = await portal_factory()
    await portal.services["accounts"].kill()
    async with Client(portal.gateway_url) as client:
        status, body = await client.api("POST", "/api/v1/accounts/registrations", {**PERSON, "email": new_email()})
        page_status, html, _ = await client.page("POST", "/registrieren", {**PERSON, "email": new_email()})
    assert status == 503 and body["error"]["code"] == "service_unavailable"
    assert "nicht erreichbar" in body["error"]["message"]
    assert page_status == 503 and "nicht erreichbar" in html
