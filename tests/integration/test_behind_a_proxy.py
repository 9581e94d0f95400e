"""The gateway behind a TLS terminator: limits count the client, not the proxy."""

import pytest

from tests.support.client import Client, new_email
from tests.support.members import member_with_own_password

pytestmark = pytest.mark.integration


class BehindProxy(Client):
    """A browser whose requests reach the gateway through the proxy on loopback, which names it
    in X-Forwarded-For (after whatever the browser itself claimed)."""

    def __init__(self, base_url: str, address: str, claimed: str | None = None) -> None:
        super().__init__(base_url)
        chain = f"{claimed}, {address}" if claimed else address
        self.session.headers["X-Forwarded-For"] = chain


async def test_an_attackers_failures_do_not_refuse_a_member_behind_the_same_proxy(portal_factory) -> None:
    portal = await portal_factory(env={"gateway": {"PORTAL_TRUSTED_PROXIES": "127.0.0.0/8"}})
    async with Client(portal.gateway_url) as setup:
        email, password = await member_with_own_password(portal, setup, "proxy")
    # the attacker forges a different address in front each time: only the proxy's hop counts
    async with BehindProxy(portal.gateway_url, "198.51.100.66", claimed="192.0.2.1") as attacker:
        statuses = [
            (
                await attacker.api(
                    "POST", "/api/v1/accounts/sessions", {"email": new_email("opfer"), "password": "falsch geraten 123"}
                )
            )[0]
            for _ in range(15)
        ]
    assert statuses[:10] == [401] * 10
    async with BehindProxy(portal.gateway_url, "203.0.113.7") as member:
        status, body = await member.api("POST", "/api/v1/accounts/sessions", {"email": email, "password": password})
        assert status == 201, body
        assert (await member.api("GET", "/api/v1/accounts/me"))[0] == 200
