"""Two replicas of every service, the gateway's too, against one NATS and one Postgres.

Replicas of a service share its durables, so every event is handled once per service, not once
per process; every gateway hears `session.revoke.v1` (a plain subscription: a broadcast); and
with one replica of each service killed with -9 the portal keeps answering through the others,
the gateway sending a request whose connection was refused to the next replica at once.
What it measured (mails lost and duplicated, 5xx, how long a revocation took) is printed.
"""

import asyncio
from collections.abc import Callable

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts.durables import DURABLES
from tests.support.client import Client, new_email, query
from tests.support.mail import extract_password, extract_token_link
from tests.support.members import PERSON
from tests.support.wait import until

pytestmark = pytest.mark.integration

MEMBERS = 12  # per burst
REVOKED_WITHIN = 1.0  # seconds from the password change on gateway 1 until gateway 2 refuses


def confirmation(mail) -> bool:
    return "token=" in mail.text


def password(mail) -> bool:
    return "Passwort: " in mail.text


class Counted:
    """The portal's clients, one per gateway (Origin: the public URL, as behind a load balancer),
    counting every 5xx answer."""

    def __init__(self, urls: list[str], public_url: str) -> None:
        self.clients = [Client(url, origin=public_url) for url in urls]
        self.server_errors: list[tuple[str, str, int]] = []

    async def api(self, gateway: int, method: str, path: str, body=None):
        status, data = await self.clients[gateway].api(method, path, body)
        if status >= 500:
            self.server_errors.append((method, path, status))
        return status, data

    async def close(self) -> None:
        await asyncio.gather(*(c.session.close() for c in self.clients))


async def register_and_confirm(portal, counted: Counted, gateways: list[int], tag: str) -> dict[str, str]:
    """A burst of registrations spread over `gateways`, each confirmed from its mail; returns the
    initial password by e-mail, once every member has both mails and nothing is left to deliver."""
    emails = [new_email(tag) for _ in range(MEMBERS)]
    on = {email: gateways[i % len(gateways)] for i, email in enumerate(emails)}
    answers = await asyncio.gather(
        *(counted.api(on[e], "POST", "/api/v1/accounts/registrations", {**PERSON, "email": e}) for e in emails)
    )
    assert [status for status, _ in answers] == [202] * MEMBERS, answers
    await all_mails(portal, emails, confirmation)

    async def confirm(email: str) -> int:
        mail = portal.mail.find(lambda m: m.to == email and confirmation(m))[0]
        token = extract_token_link(mail.text).split("token=", 1)[1]
        status, _ = await counted.api(on[email], "POST", "/api/v1/accounts/registrations/confirm", {"token": token})
        return status

    assert await asyncio.gather(*(confirm(e) for e in emails)) == [200] * MEMBERS
    await all_mails(portal, emails, password)
    await until(lambda: drained(portal), "every durable drained, outbox and mail queue empty", timeout=30)
    return {e: extract_password(portal.mail.find(lambda m, e=e: m.to == e and password(m))[0].text) for e in emails}


async def all_mails(portal, emails: list[str], kind: Callable) -> None:
    wanted = set(emails)

    def arrived() -> bool:
        return {m.to for m in portal.mail.find(lambda m: m.to in wanted and kind(m))} == wanted

    await until(arrived, f"a mail for each of {len(wanted)}", timeout=30)


async def drained(portal) -> bool:
    """Every durable of the portal's services has each message acked, accounts' outbox is empty
    and notifications' queue is sent: only then can a count of mails say 'exactly one'."""
    ops = await portal.nats.connect("ops", allow_reconnect=False)
    try:
        js = ops.jetstream(timeout=5)
        for durable in DURABLES:
            if durable.service == "printshop":
                continue
            info = await js.consumer_info(durable.stream, durable.name)
            if info.num_pending or info.num_ack_pending:
                return False
    finally:
        await ops.close()
    outbox = await query(portal.database_url, "select count(*) as n from accounts.outbox where published_at is null")
    unsent = await query(portal.database_url, "select count(*) as n from notifications.mails where state <> 'sent'")
    return outbox[0]["n"] == 0 and unsent[0]["n"] == 0


async def posts_answered(process) -> int:
    """POST requests this one process answered, from its own /metrics."""
    async with aiohttp.ClientSession() as session, session.get(process.metrics_url) as response:
        text = await response.text()
    return int(
        sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "portal_http_requests_total" and sample.labels.get("method") == "POST"
        )
    )


def lost_and_duplicated(portal, emails, kind: Callable) -> tuple[list[str], list[str]]:
    counts = {e: portal.mail.count(lambda m, e=e: m.to == e and kind(m)) for e in emails}
    return [e for e, n in counts.items() if n == 0], [e for e, n in counts.items() if n > 1]


async def test_two_replicas_of_every_service_handle_each_event_once_and_survive_losing_one(portal_factory) -> None:
    portal = await portal_factory(replicas=2)
    assert [len(portal.instances(name)) for name in ("accounts", "pins", "notifications", "gateway")] == [2] * 4
    counted = Counted(portal.gateway_urls, portal.gateway_url)
    try:
        # a burst over both gateways: each event once per service, though two processes read it
        first = await register_and_confirm(portal, counted, [0, 1], "replicas")
        lost, duplicated = [], []
        for kind in (confirmation, password):
            missing, twice = lost_and_duplicated(portal, first, kind)
            lost, duplicated = lost + missing, duplicated + twice
        print(
            f"\n2 replicas each: {len(first)} members over both gateways: {len(lost)} mails lost, "
            f"{len(duplicated)} duplicated"
        )
        assert (lost, duplicated) == ([], [])
        spread = [await posts_answered(process) for process in portal.instances("accounts")]
        print(f"POSTs answered by accounts r1, r2: {spread}")
        assert all(spread), "both gateways send to both replicas of accounts"

        # a session ended on gateway 1 is refused on gateway 2, which had it cached
        email, initial = next(iter(first.items()))
        here, there = (
            Client(portal.gateway_urls[0], origin=portal.gateway_url),
            Client(portal.gateway_urls[1], origin=portal.gateway_url),
        )
        async with here, there:
            for client in (here, there):
                status, _ = await client.api("POST", "/api/v1/accounts/sessions", {"email": email, "password": initial})
                assert status == 201
            assert (await there.api("GET", "/api/v1/accounts/me"))[0] == 200
            status, _ = await here.api(
                "POST",
                "/api/v1/accounts/password",
                {"current_password": initial, "new_password": "Dachrinne im Herbst"},
            )
            assert status == 204
            loop = asyncio.get_running_loop()
            changed = loop.time()

            async def refused() -> bool:
                return (await there.api("GET", "/api/v1/accounts/me"))[0] == 401

            await until(refused, "gateway 2 refusing the ended session", timeout=5)
            took = loop.time() - changed
        print(f"session ended on gateway 1, refused on gateway 2 after {took * 1000:.0f} ms")
        assert took < REVOKED_WITHIN

        # one replica of each service killed: the portal answers through the others
        dead = [portal.instances(name)[0] for name in ("accounts", "pins", "notifications", "gateway")]
        await asyncio.gather(*(process.kill() for process in dead))
        assert not any(process.running for process in dead)
        counted.server_errors.clear()
        second = await register_and_confirm(portal, counted, [1], "survivor")
        for email, initial in second.items():
            member = Counted([portal.gateway_urls[1]], portal.gateway_url)
            try:
                status, _ = await member.api(
                    0, "POST", "/api/v1/accounts/sessions", {"email": email, "password": initial}
                )
                assert status == 201
                assert (await member.api(0, "GET", "/api/v1/accounts/me"))[0] == 200
                # "Mein Betrieb" of a member with no business yet: pins answers 403, not a 5xx
                assert (await member.api(0, "GET", "/api/v1/pins/businesses/mine"))[0] == 403
            finally:
                await member.close()
                counted.server_errors.extend(member.server_errors)
        lost, duplicated = [], []
        for kind in (confirmation, password):
            missing, twice = lost_and_duplicated(portal, second, kind)
            lost, duplicated = lost + missing, duplicated + twice
        print(
            f"one replica of each killed: {len(second)} members through gateway 2: {len(lost)} mails lost, "
            f"{len(duplicated)} duplicated, {len(counted.server_errors)} answers 5xx"
        )
        assert (lost, duplicated, counted.server_errors) == ([], [], [])
    finally:
        await counted.close()
