"""Idle and absolute session expiry, and the initial password's expiry, with an injectable clock:
accounts runs in this process on the real Postgres and NATS, its clock in the test's hand."""

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from runtime import identity
from runtime.crypto import generate_keypair, unseal
from runtime.sessions import RESOLVE_PATH, SessionUser
from services.accounts.app import create_app
from services.accounts.settings import Settings
from tests.support.client import new_email, query

pytestmark = pytest.mark.integration

SECRET = secrets.token_urlsafe(40)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
async def accounts(postgres, nats_server):
    public, private = generate_keypair()
    dsn = await postgres.create_database(f"lifetimes_{secrets.token_hex(4)}")
    settings = Settings(
        database_url=dsn, nats_url=nats_server.url, public_url="http://portal.test",
        internal_secret=SECRET, notifications_public_key=public,
    )
    clock = Clock()
    async with TestClient(TestServer(create_app(settings, clock=clock))) as client:
        client.clock, client.dsn, client.private_key = clock, dsn, private
        yield client


async def call(client, method: str, path: str, body=None, user: str = "") -> tuple[int, dict | None]:
    headers = identity.sign(SECRET, identity.Identity(user, "192.0.2.7"))
    async with client.request(method, path, json=body, headers=headers) as response:
        data = await response.json() if response.content_type == "application/json" else None
        return response.status, data


async def active_member(client) -> tuple[str, str]:
    """Register and confirm through the API; the initial password comes out of the sealed event."""
    email = new_email("clock")
    person = {"first_name": "Erika", "last_name": "Mustermann", "birth_date": "1979-05-04", "email": email}
    assert (await call(client, "POST", "/api/v1/accounts/registrations", person))[0] == 202
    rows = await query(client.dsn, "select payload from accounts.outbox where subject = 'user.registered.v1' order by id desc limit 1")
    link = unseal(client.private_key, _json(rows[0]["payload"])["confirmation_link"])
    token = link.split("token=")[1]
    assert (await call(client, "POST", "/api/v1/accounts/registrations/confirm", {"token": token}))[0] == 200
    rows = await query(client.dsn, "select payload from accounts.outbox where subject = 'user.confirmed.v1' order by id desc limit 1")
    return email, unseal(client.private_key, _json(rows[0]["payload"])["initial_password"])


def _json(value):
    import json

    return json.loads(value) if isinstance(value, str) else value


async def login(client, email: str, password: str) -> str:
    headers = identity.sign(SECRET, identity.Identity("", "192.0.2.7"))
    async with client.post("/api/v1/accounts/sessions", json={"email": email, "password": password}, headers=headers) as response:
        assert response.status == 201, await response.text()
        return response.cookies["kp_session"].value


async def resolve(client, token: str) -> int:
    return (await call(client, "POST", RESOLVE_PATH, {"token": token}))[0]


async def test_a_session_ends_after_thirty_idle_minutes(accounts) -> None:
    email, password = await active_member(accounts)
    token = await login(accounts, email, password)
    accounts.clock.advance(minutes=29)
    assert await resolve(accounts, token) == 200  # used again: the idle time starts anew
    accounts.clock.advance(minutes=29)
    assert await resolve(accounts, token) == 200
    accounts.clock.advance(minutes=30, seconds=1)
    assert await resolve(accounts, token) == 404
    assert await resolve(accounts, token) == 404  # and the row is gone


async def test_a_session_ends_twelve_hours_after_login_however_busy(accounts) -> None:
    email, password = await active_member(accounts)
    token = await login(accounts, email, password)
    for _ in range(35):  # 11 h 40 min of steady use
        accounts.clock.advance(minutes=20)
        assert await resolve(accounts, token) == 200
    accounts.clock.advance(minutes=20, seconds=1)
    assert await resolve(accounts, token) == 404


async def test_the_initial_password_expires_unused(accounts) -> None:
    email, password = await active_member(accounts)
    accounts.clock.advance(days=14, seconds=1)
    status, body = await call(accounts, "POST", "/api/v1/accounts/sessions", {"email": email, "password": password})
    assert status == 401 and body["error"]["code"] == "initial_password_expired"
    assert "Passwort vergessen" in body["error"]["message"]


async def test_a_reset_link_expires_after_an_hour(accounts) -> None:
    email, _ = await active_member(accounts)
    assert (await call(accounts, "POST", "/api/v1/accounts/password/forgot", {"email": email}))[0] == 202
    rows = await query(accounts.dsn, "select payload from accounts.outbox where subject = 'user.password_reset_requested.v1' order by id desc limit 1")
    token = unseal(accounts.private_key, _json(rows[0]["payload"])["reset_link"]).split("token=")[1]
    accounts.clock.advance(minutes=60, seconds=1)
    status, body = await call(accounts, "POST", "/api/v1/accounts/password/reset", {"token": token, "new_password": "Dachrinne im Herbst reinigen"})
    assert status == 410 and body["error"]["code"] == "token_expired"


async def test_throttling_engages_and_releases_with_time(accounts) -> None:
    email, password = await active_member(accounts)
    for _ in range(5):
        status, body = await call(accounts, "POST", "/api/v1/accounts/sessions", {"email": email, "password": "falsch-falsch-falsch"})
        assert status == 401 and body["error"]["code"] == "login_failed"
    status, body = await call(accounts, "POST", "/api/v1/accounts/sessions", {"email": email, "password": password})
    assert status == 429 and body["error"]["code"] == "login_throttled"
    accounts.clock.advance(minutes=5, seconds=1)
    assert (await call(accounts, "POST", "/api/v1/accounts/sessions", {"email": email, "password": password}))[0] == 201


async def test_a_session_user_header_round_trips(accounts) -> None:
    email, password = await active_member(accounts)
    token = await login(accounts, email, password)
    status, body = await call(accounts, "POST", RESOLVE_PATH, {"token": token})
    user = SessionUser.parse(f"{body['user_id']}:{body['session_id']}")
    status, profile = await call(accounts, "GET", "/api/v1/accounts/me", user=user.header())
    assert status == 200 and profile["email"] == email and profile["must_change_password"] is True
