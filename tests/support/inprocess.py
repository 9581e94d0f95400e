"""Accounts in this process on the real Postgres and NATS, its clock in the test's hand."""

import json
import secrets
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient, TestServer

from runtime.crypto import generate_keypair, generate_secret, unseal
from runtime.sessions import RESOLVE_PATH
from services.accounts.app import create_app
from services.accounts.settings import Settings
from tests.support.client import new_email, query
from tests.support.identity import PUBLIC_KEY, signed


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


async def accounts_in_process(postgres, nats_server, **overrides):
    """`overrides`: further Settings fields, e.g. hash_max_pending."""
    public, private = generate_keypair()
    dsn = await postgres.create_database(f"lifetimes_{secrets.token_hex(4)}")
    settings = Settings(
        database_url=dsn,
        nats_url=nats_server.url,
        identity_public_key=PUBLIC_KEY,
        accounts_secret=generate_secret(),
        notifications_public_key=public,
        **({"public_url": "http://portal.test"} | overrides),
    )
    clock = Clock()
    async with TestClient(TestServer(create_app(settings, clock=clock))) as client:
        client.clock, client.dsn, client.private_key = clock, dsn, private
        yield client


async def call(client, method: str, path: str, body=None, user: str = "") -> tuple[int, dict | None]:
    async with client.request(method, path, **signed(method, path, body, user=user)) as response:
        data = await response.json() if response.content_type == "application/json" else None
        return response.status, data


async def active_member(client) -> tuple[str, str]:
    """Register and confirm through the API; the initial password comes out of the sealed event."""
    email = new_email("clock")
    person = {"first_name": "Erika", "last_name": "Mustermann", "birth_date": "1979-05-04", "email": email}
    assert (await call(client, "POST", "/api/v1/accounts/registrations", person))[0] == 202
    rows = await query(
        client.dsn, "select payload from accounts.outbox where subject = 'user.registered.v1' order by id desc limit 1"
    )
    link = unseal(client.private_key, _json(rows[0]["payload"])["confirmation_link"])
    token = link.split("token=")[1]
    assert (await call(client, "POST", "/api/v1/accounts/registrations/confirm", {"token": token}))[0] == 200
    rows = await query(
        client.dsn, "select payload from accounts.outbox where subject = 'user.confirmed.v1' order by id desc limit 1"
    )
    return email, unseal(client.private_key, _json(rows[0]["payload"])["initial_password"])


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


async def login(client, email: str, password: str) -> str:
    path, body = "/api/v1/accounts/sessions", {"email": email, "password": password}
    async with client.post(path, **signed("POST", path, body)) as response:
        assert response.status == 201, await response.text()
        return next(cookie.value for name, cookie in response.cookies.items() if name.endswith("kp_session"))


async def resolve(client, token: str) -> int:
    return (await call(client, "POST", RESOLVE_PATH, {"token": token}))[0]
