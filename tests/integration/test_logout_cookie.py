"""Logging out deletes the session cookie the way it was set: a browser ignores the deletion of a
`__Host-` cookie that lacks `Secure`, and the member would stay signed in on a shared computer."""

import pytest

from runtime.sessions import SECURE_COOKIE
from tests.support.identity import signed
from tests.support.inprocess import accounts_in_process, active_member, login

pytestmark = pytest.mark.integration


@pytest.fixture
async def accounts(postgres, nats_server):
    async for client in accounts_in_process(postgres, nats_server, public_url="https://portal.example"):
        yield client


async def test_logout_deletes_the_cookie_with_the_attributes_it_was_set_with(accounts) -> None:
    email, password = await active_member(accounts)
    token = await login(accounts, email, password)
    resolved = await accounts.post(
        "/internal/v1/sessions/resolve", **signed("POST", "/internal/v1/sessions/resolve", {"token": token})
    )
    body = await resolved.json()
    user = f"{body['user_id']}:{body['session_id']}:{body['started_at_ms']}"
    path = "/api/v1/accounts/sessions/current"
    async with accounts.delete(path, **signed("DELETE", path, user=user)) as response:
        assert response.status == 204
        (deletion,) = [c for c in response.headers.getall("Set-Cookie") if c.startswith(SECURE_COOKIE + "=")]
    attributes = {part.strip().split("=")[0].lower() for part in deletion.split(";")}
    assert {"secure", "path", "httponly", "samesite"} <= attributes, deletion
    assert "Path=/" in deletion and ("Max-Age=0" in deletion or "expires=" in deletion.lower())
