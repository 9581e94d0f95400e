"""Linking ends the sessions that began before it at once, whatever the bus does, and never a
session that began after it (DESIGN.md, "Ending a session never waits on a cache")."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from contracts import PinLinkedV1
from runtime.consumers import durable_name
from tests.support.browser import import_businesses, new_betriebsnummer
from tests.support.client import Client, query
from tests.support.members import logged_in, member_with_own_password
from tests.support.pins import pin_from_outbox
from tests.support.wait import until

pytestmark = pytest.mark.integration

ACCOUNTS_DURABLE = durable_name("accounts", PinLinkedV1.SUBJECT)


async def pause_accounts_consumer(portal, until_: datetime | None) -> None:
    """As ops would with `nats consumer pause`: accounts stays up, but hears no pin.linked.v1."""
    connection = await portal.nats_connect("ops")  # ops' user may pause a consumer
    try:
        body = {"pause_until": until_.isoformat().replace("+00:00", "Z")} if until_ else {}
        reply = await connection.request(
            f"$JS.API.CONSUMER.PAUSE.{PinLinkedV1.STREAM}.{ACCOUNTS_DURABLE}", json.dumps(body).encode(), timeout=5
        )
        assert "error" not in json.loads(reply.data), reply.data
    finally:
        await connection.close()


async def test_a_link_ends_older_sessions_at_once_and_spares_newer_ones(portal, test_output) -> None:
    number = new_betriebsnummer()
    import_businesses(portal, [f"{number};Zimmerei Alt & Neu;Mainzer Straße 3;65185;Wiesbaden;;Zimmerer"], test_output)
    async with (
        Client(portal.gateway_url) as linking,
        Client(portal.gateway_url) as other_tab,
        Client(portal.gateway_url) as later,
    ):
        email, password = await member_with_own_password(portal, linking, "linksessions")
        await logged_in(other_tab, email, password)
        assert (await other_tab.api("GET", "/api/v1/pins/requests"))[0] == 200  # cached by the gateway

        assert (await linking.api("POST", "/api/v1/pins/requests", {"betriebsnummer": number}))[0] == 202
        pin = await pin_from_outbox(portal, number)
        await pause_accounts_consumer(portal, datetime.now(UTC) + timedelta(hours=1))
        try:
            status, body = await linking.api("POST", "/api/v1/pins/links", {"betriebsnummer": number, "pin": pin})
            assert status == 200, body

            # The other tab began before the link: pins refuses it although accounts has not
            # heard of the link, and the gateway ends it for good.
            status, body = await other_tab.api("GET", "/api/v1/pins/businesses/mine")
            assert status == 401 and body["error"]["code"] == "session_ended", body
            assert "abgemeldet" in body["error"]["message"]
            assert (await other_tab.api("GET", "/api/v1/accounts/me"))[0] == 401

            # Logging in again right after the link reaches the member area at once ...
            await logged_in(later, email, password)
            status, area = await later.api("GET", "/api/v1/pins/businesses/mine")
            assert status == 200 and area["businesses"][0]["betriebsnummer"] == number
        finally:
            await pause_accounts_consumer(portal, None)

        # ... and survives the event when accounts hears of the link.
        async def membership():
            return await query(
                portal.database_url,
                "select 1 from accounts.memberships m join accounts.users u on u.id = m.user_id where u.email = $1",
                email,
            )

        await until(membership, "accounts records the membership", timeout=30)
        status, me = await later.api("GET", "/api/v1/accounts/me")
        assert status == 200 and [b["betriebsnummer"] for b in me["businesses"]] == [number]
        assert (await later.api("GET", "/api/v1/pins/businesses/mine"))[0] == 200
        sessions = await query(
            portal.database_url,
            "select s.id from accounts.sessions s join accounts.users u on u.id = s.user_id where u.email = $1",
            email,
        )
        assert len(sessions) == 1  # only the one that began after the link
