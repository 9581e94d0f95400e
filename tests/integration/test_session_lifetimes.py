"""Idle and absolute session expiry, and the initial password's expiry, with an injectable clock:
accounts runs in this process on the real Postgres and NATS, its clock in the test's hand."""

import pytest

from runtime.crypto import unseal
from runtime.sessions import RESOLVE_PATH, SessionUser
from tests.support.client import query
from tests.support.inprocess import _json, accounts_in_process, active_member, call, login, resolve

pytestmark = pytest.mark.integration


@pytest.fixture
async def accounts(postgres, nats_server):
    async for client in accounts_in_process(postgres, nats_server):
        yield client


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
    rows = await query(
        accounts.dsn,
        "select payload from accounts.outbox where subject = 'user.password_reset_requested.v1' order by id desc limit 1",
    )
    token = unseal(accounts.private_key, _json(rows[0]["payload"])["reset_link"]).split("token=")[1]
    accounts.clock.advance(minutes=60, seconds=1)
    status, body = await call(
        accounts,
        "POST",
        "/api/v1/accounts/password/reset",
        {"token": token, "new_password": "Dachrinne im Herbst reinigen"},
    )
    assert status == 410 and body["error"]["code"] == "token_expired"


async def test_throttling_engages_and_releases_with_time(accounts) -> None:
    email, password = await active_member(accounts)
    for _ in range(5):
        status, body = await call(
            accounts, "POST", "/api/v1/accounts/sessions", {"email": email, "password": "falsch-falsch-falsch"}
        )
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
