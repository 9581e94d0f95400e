"""What each service's port answers, and what only ops may reach."""

import aiohttp
import pytest

from deploy.infra import SERVICES

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
