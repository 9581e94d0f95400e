"""What each service's port answers, and what only ops may reach."""

import base64
from datetime import UTC, datetime
from uuid import uuid4

import aiohttp
import pytest

from deploy.infra import SERVICES
from runtime.crypto import secret_bytes
from runtime.identity import Signer, generate_signing_keypair
from runtime.sessions import epoch_ms
from tests.support.identity import signed

pytestmark = pytest.mark.integration


async def status_and_text(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_metrics_have_a_listener_of_their_own_never_the_public_port(portal) -> None:
    for name in SERVICES:
        process = portal.services[name]
        assert (await status_and_text(f"{process.url}/healthz"))[0] == 200, name
        assert (await status_and_text(f"{process.url}/readyz"))[0] == 200, name
        assert (await status_and_text(f"{process.url}/metrics"))[0] == 404, name
        status, text = await status_and_text(process.metrics_url)
        assert status == 200 and "portal_http_requests_total" in text, name
    for path in ("/metrics", "/api/v1/accounts/../../metrics", "/api/v1/accounts/%2e%2e/%2e%2e/metrics"):
        assert (await status_and_text(portal.gateway_url + path))[0] == 404, path


async def test_no_key_but_the_gateways_makes_an_identity_a_service_accepts(portal) -> None:
    """A compromised service holds its own keys and secrets, never the gateway's signing key."""
    path = "/api/v1/pins/businesses/mine"
    user = f"{uuid4()}:{uuid4()}:{epoch_ms(datetime.now(UTC))}"
    url = portal.url("pins") + path
    genuine = Signer(portal.secrets.identity_private_key)
    forgers = {
        "another Ed25519 key": Signer(generate_signing_keypair()[1]),
        "notifications' own private key": Signer(portal.secrets.notifications_private_key),
        "the accounts secret": Signer(base64.b64encode(secret_bytes(portal.secrets.accounts_secret)[:32]).decode()),
    }
    async with aiohttp.ClientSession() as session:
        for name, signer in forgers.items():
            async with session.get(url, **signed("GET", path, user=user, signer=signer)) as response:
                assert response.status == 403, name
        # the genuine signature counts for this very request only
        moved = signed("GET", "/api/v1/pins/requests", user=user, signer=genuine)
        async with session.get(url, **moved) as response:
            assert response.status == 403
        async with session.get(url, **signed("GET", path, user=user, signer=genuine)) as response:
            assert response.status == 403 and (await response.json())["error"]["code"] == "not_linked"


async def test_accounts_counts_wrong_passwords_and_shows_its_hashing_queue(portal) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{portal.gateway_url}/api/v1/accounts/sessions",
            json={"email": f"kp-{uuid4().hex[:8]}@example.de", "password": "ganz sicher falsch"},
            headers={"Origin": portal.gateway_url},
        ) as response:
            assert response.status == 401
    status, text = await status_and_text(portal.services["accounts"].metrics_url)
    assert status == 200
    failures = [line for line in text.splitlines() if line.startswith('portal_login_failures_total{lane="other"}')]
    assert failures and float(failures[0].split()[-1]) >= 1
    assert "portal_hash_queue_depth 0.0" in text  # nothing running once the answer is out
