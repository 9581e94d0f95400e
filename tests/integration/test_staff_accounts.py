"""Staff accounts (issue 11): create-staff, the second factor, the staff API of accounts with its
audit, and the consumer of pin.unlinked.v1. Accounts runs in this process on the real Postgres
(its clock in the test's hand, identities signed as the gateway signs them); the story from the
command line to the staff area runs through a whole portal and its mail catcher."""

import json
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import pyotp
import pytest

from contracts import PinLinkedV1, PinUnlinkedV1
from runtime.crypto import unseal
from services.accounts import housekeeping, memberships
from services.accounts import http as accounts_http
from tests.support.client import Client, new_email, query
from tests.support.identity import signed
from tests.support.inprocess import accounts_in_process, active_member, call, login
from tests.support.operator import run_command
from tests.support.staff import STAFF_PASSWORD, enroll, identity, setup_link, staff_signed_in

pytestmark = pytest.mark.integration

STAFF_API = "/api/v1/accounts/staff"


@pytest.fixture
async def accounts(postgres, nats_server):
    async for client in accounts_in_process(postgres, nats_server):
        yield client


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


async def events(client, subject: str, user_id) -> list[dict]:
    rows = await query(
        client.dsn,
        "select payload from accounts.outbox where subject = $1 and payload->>'user_id' = $2 order by id",
        subject,
        str(user_id),
    )
    return [_json(r["payload"]) for r in rows]


async def member_session(client) -> tuple[str, str, str]:
    """A confirmed member, signed in: (e-mail, password, identity header user)."""
    email, password = await active_member(client)
    return email, password, await identity(client, await login(client, email, password))


async def lookup(client, staff, email: str) -> dict:
    status, body = await call(client, "GET", f"{STAFF_API}/members?email={email}", user=staff.user)
    assert status == 200, body
    return body


async def test_a_staff_account_sees_nothing_before_its_second_factor(accounts) -> None:
    staff = await staff_signed_in(accounts, enrolled=False)
    assert staff.user.endswith(":staff_pending")
    email, _, _ = await member_session(accounts)
    status, body = await call(accounts, "GET", f"{STAFF_API}/members?email={email}", user=staff.user)
    assert (status, body["error"]["code"]) == (403, "second_factor_required")
    # a forged header claiming "staff" for the same session is refused by what accounts stored
    forged = staff.user.rsplit(":", 1)[0] + ":staff"
    status, body = await call(accounts, "GET", f"{STAFF_API}/members?email={email}", user=forged)
    assert (status, body["error"]["code"]) == (403, "second_factor_required")
    assert await call(accounts, "GET", f"{STAFF_API}/second-factor", user=staff.user) == (200, {"enrolled": False})

    await enroll(accounts, staff)
    assert len(staff.recovery_codes) == 10 == len(set(staff.recovery_codes))
    assert (await lookup(accounts, staff, email))["email"] == email
    assert await call(accounts, "GET", f"{STAFF_API}/second-factor", user=staff.user) == (200, {"enrolled": True})
    status, body = await call(accounts, "POST", f"{STAFF_API}/second-factor/setup", user=staff.user)
    assert (status, body["error"]["code"]) == (409, "second_factor_enrolled")
    secret_stored = await query(accounts.dsn, "select secret from accounts.second_factors")
    assert staff.secret.encode() not in bytes(secret_stored[0]["secret"])  # encrypted at rest

    # the next login: staff_pending again until a code; the code used at enrolment is spent
    status, answer = await call(
        accounts, "POST", "/api/v1/accounts/sessions", {"email": staff.email, "password": STAFF_PASSWORD}
    )
    assert (status, answer["role"]) == (201, "staff_pending")
    second = await identity(accounts, await login(accounts, staff.email, STAFF_PASSWORD))
    assert second.endswith(":staff_pending")
    used = pyotp.TOTP(staff.secret).at(accounts.clock())
    status, body = await call(accounts, "POST", f"{STAFF_API}/second-factor", {"code": used}, user=second)
    assert (status, body["error"]["fields"].keys()) == (422, {"code"})
    accounts.clock.advance(seconds=30)
    fresh = pyotp.TOTP(staff.secret).at(accounts.clock())
    status, _ = await call(accounts, "POST", f"{STAFF_API}/second-factor", {"code": fresh}, user=second)
    assert status == 204


async def test_the_setup_page_reloaded_shows_the_secret_already_scanned(accounts) -> None:
    staff = await staff_signed_in(accounts, enrolled=False)
    first = await call(accounts, "POST", f"{STAFF_API}/second-factor/setup", user=staff.user)
    again = await call(accounts, "POST", f"{STAFF_API}/second-factor/setup", user=staff.user)
    assert first[0] == again[0] == 200
    assert first[1]["secret"] == again[1]["secret"]  # the app that scanned the first still fits
    code = pyotp.TOTP(first[1]["secret"]).at(accounts.clock())
    status, codes = await call(
        accounts, "POST", f"{STAFF_API}/second-factor/setup/confirm", {"code": code}, user=staff.user
    )
    assert status == 200 and len(codes["recovery_codes"]) == 10


async def test_a_recovery_code_passes_once_and_only_once(accounts) -> None:
    staff = await staff_signed_in(accounts)
    code = staff.recovery_codes[3]
    first = await identity(accounts, await login(accounts, staff.email, STAFF_PASSWORD))
    status, _ = await call(accounts, "POST", f"{STAFF_API}/second-factor", {"code": code.lower()}, user=first)
    assert status == 204
    token = await login(accounts, staff.email, STAFF_PASSWORD)
    second = await identity(accounts, token)
    status, body = await call(accounts, "POST", f"{STAFF_API}/second-factor", {"code": code}, user=second)
    assert (status, body["error"]["code"]) == (422, "invalid_input")
    assert (await identity(accounts, token)).endswith(":staff_pending")
    status, _ = await call(
        accounts, "POST", f"{STAFF_API}/second-factor", {"code": staff.recovery_codes[4]}, user=second
    )
    assert status == 204
    assert (await identity(accounts, token)).endswith(":staff")


async def test_wrong_codes_are_throttled(accounts) -> None:
    staff = await staff_signed_in(accounts)
    session = await identity(accounts, await login(accounts, staff.email, STAFF_PASSWORD))
    accounts.clock.advance(seconds=60)  # past the enrolment's step
    for _ in range(5):
        status, _ = await call(accounts, "POST", f"{STAFF_API}/second-factor", {"code": "000000"}, user=session)
        assert status == 422
    right = {"code": pyotp.TOTP(staff.secret).at(accounts.clock())}
    path = f"{STAFF_API}/second-factor"
    async with accounts.post(path, **signed("POST", path, right, user=session)) as response:
        body = await response.json()
        print("throttled:", response.status, response.headers.get("Retry-After"), body["error"]["message"])
        assert response.status == 429
        assert 0 < int(response.headers["Retry-After"]) <= 15 * 60 + 1
        assert "Zu viele" in body["error"]["message"]
    accounts.clock.advance(minutes=15)
    right = {"code": pyotp.TOTP(staff.secret).at(accounts.clock())}
    assert (await call(accounts, "POST", f"{STAFF_API}/second-factor", right, user=session))[0] == 204


async def test_members_get_403_on_every_staff_route_of_accounts(accounts) -> None:
    _, _, member = await member_session(accounts)
    pending = (await staff_signed_in(accounts, enrolled=False)).user
    routes = [
        (e.method, e.path.replace("{user_id}", str(uuid4()))) for e in accounts_http.ENDPOINTS if "/staff/" in e.path
    ]
    assert len(routes) == 13
    for method, path in routes:
        body = {"code": "123456"} if method == "POST" and "second-factor" in path else None
        status, answer = await call(accounts, method, path, body, user=member)
        assert (status, answer["error"]["code"]) == (403, "staff_only"), (method, path)
        assert (await call(accounts, method, path, body))[0] == 401, (method, path)
        if "second-factor" not in path:
            status, answer = await call(accounts, method, path, body, user=pending)
            assert (status, answer["error"]["code"]) == (403, "second_factor_required"), (method, path)


async def test_each_staff_action_with_its_audit_line(accounts) -> None:
    staff = await staff_signed_in(accounts)
    email, password, member = await member_session(accounts)
    found = await lookup(accounts, staff, email)
    user_id = found["user_id"]
    assert found["state"] == "active" and found["role"] == "member" and found["last_login_at"] is not None
    assert found["login_throttled"] is False and found["memberships"] == []
    # by id too (the staff area's member page), the same answer and a view of its own in the audit
    assert await call(accounts, "GET", f"{STAFF_API}/members/{user_id}", user=staff.user) == (200, found)

    # throttled by wrong passwords, lifted by staff
    for _ in range(5):
        await call(accounts, "POST", "/api/v1/accounts/sessions", {"email": email, "password": "falsch falsch falsch"})
    found = await lookup(accounts, staff, email)
    assert found["login_throttled"] is True and found["throttled_until"] is not None
    assert (await call(accounts, "DELETE", f"{STAFF_API}/members/{user_id}/throttle", user=staff.user))[0] == 204
    assert (await lookup(accounts, staff, email))["login_throttled"] is False
    await login(accounts, email, password)

    # deactivated: every session ends; the right password learns why, a wrong one learns nothing
    assert (await call(accounts, "POST", f"{STAFF_API}/members/{user_id}/deactivation", user=staff.user))[0] == 204
    assert (await call(accounts, "GET", "/api/v1/accounts/me", user=member))[0] == 401
    assert await query(accounts.dsn, "select 1 from accounts.sessions where user_id = $1", UUID(user_id)) == []
    login_body = {"email": email, "password": password}
    status, body = await call(accounts, "POST", "/api/v1/accounts/sessions", login_body)
    assert (status, body["error"]["code"]) == (403, "account_deactivated")
    assert "hwk" in body["error"]["message"]
    status, body = await call(accounts, "POST", "/api/v1/accounts/sessions", {**login_body, "password": "x" * 14})
    assert (status, body["error"]["code"]) == (401, "login_failed")
    assert (await call(accounts, "DELETE", f"{STAFF_API}/members/{user_id}/deactivation", user=staff.user))[0] == 204
    member = await identity(accounts, await login(accounts, email, password))

    # a new initial password: mailed (sealed), old sessions end, the new one logs in
    assert (await call(accounts, "POST", f"{STAFF_API}/members/{user_id}/initial-password", user=staff.user))[0] == 202
    assert (await call(accounts, "GET", "/api/v1/accounts/me", user=member))[0] == 401
    reissued = (await events(accounts, "user.confirmed.v1", user_id))[-1]
    assert reissued["reissued_by_staff"] is True
    status, answer = await call(
        accounts,
        "POST",
        "/api/v1/accounts/sessions",
        {"email": email, "password": unseal(accounts.private_key, reissued["initial_password"])},
    )
    assert (status, answer["must_change_password"]) == (201, True)
    changes = [e["change"] for e in await events(accounts, "user.changed_by_staff.v1", user_id)]
    assert changes == ["throttle_lifted", "deactivated", "reactivated"]
    revokes = [e["reason"] for e in await events(accounts, "session.revoke.v1", user_id)]
    assert revokes.count("staff") == 2

    # staff accounts are not deactivated or erased from here, not even by themselves
    for method, path in (("POST", "/deactivation"), ("DELETE", "")):
        status, body = await call(accounts, method, f"{STAFF_API}/members/{staff.user_id}{path}", user=staff.user)
        assert (status, body["error"]["code"]) == (409, "staff_account")
    status, body = await call(accounts, "DELETE", "/api/v1/accounts/me", {"password": STAFF_PASSWORD}, user=staff.user)
    assert (status, body["error"]["code"]) == (409, "staff_account")

    # erased as "Konto löschen" does
    assert (await call(accounts, "DELETE", f"{STAFF_API}/members/{user_id}", user=staff.user))[0] == 204
    assert await query(accounts.dsn, "select 1 from accounts.users where id = $1", UUID(user_id)) == []
    (deleted,) = await events(accounts, "user.deleted.v1", user_id)
    assert deleted["deleted_by"] == "staff"
    status, body = await call(accounts, "GET", f"{STAFF_API}/members?email={email}", user=staff.user)
    assert (status, body["error"]["code"]) == (404, "member_not_found")
    assert (await call(accounts, "DELETE", f"{STAFF_API}/members/{user_id}", user=staff.user))[0] == 404
    status, body = await call(accounts, "GET", f"{STAFF_API}/members/{user_id}", user=staff.user)
    assert (status, body["error"]["code"]) == (404, "member_not_found")

    status, page = await call(accounts, "GET", f"{STAFF_API}/audit?limit=200", user=staff.user)
    assert status == 200
    mine = [(e["action"], e["user_id"]) for e in page["entries"] if e["staff_user_id"] == staff.user_id]
    assert mine == [
        ("erased", user_id),
        ("initial_password_sent", user_id),
        ("reactivated", user_id),
        ("deactivated", user_id),
        ("member_viewed", user_id),
        ("throttle_lifted", user_id),
        ("member_viewed", user_id),
        ("member_viewed", user_id),
        ("member_viewed", user_id),
    ]
    assert page["staff"][staff.user_id] == "Kira Kammer"
    assert all(e["service"] == "accounts" and e["action_label"] for e in page["entries"])
    ids = [e["id"] for e in page["entries"]]
    assert ids == sorted(ids, reverse=True)
    status, older = await call(accounts, "GET", f"{STAFF_API}/audit?before={ids[1]}&limit=1", user=staff.user)
    assert [e["id"] for e in older["entries"]] == [ids[2]]
    dump = json.dumps([dict(r) for r in await query(accounts.dsn, "select * from accounts.staff_audit")], default=str)
    assert email not in dump


async def test_staff_resend_the_confirmation_of_a_pending_account(accounts) -> None:
    staff = await staff_signed_in(accounts)
    email = new_email("pending")
    person = {"first_name": "Erika", "last_name": "Mustermann", "birth_date": "1979-05-04", "email": email}
    assert (await call(accounts, "POST", "/api/v1/accounts/registrations", person))[0] == 202
    found = await lookup(accounts, staff, email)
    assert found["state"] == "pending" and found["confirmed_at"] is None
    path = f"{STAFF_API}/members/{found['user_id']}/confirmation"
    assert (await call(accounts, "POST", path, user=staff.user))[0] == 202
    assert len(await events(accounts, "user.registered.v1", found["user_id"])) == 2
    status, body = await call(
        accounts, "POST", f"{STAFF_API}/members/{found['user_id']}/initial-password", user=staff.user
    )
    assert (status, body["error"]["code"]) == (409, "not_active")
    email2, _, _ = await member_session(accounts)
    active = await lookup(accounts, staff, email2)
    status, body = await call(
        accounts, "POST", f"{STAFF_API}/members/{active['user_id']}/confirmation", user=staff.user
    )
    assert (status, body["error"]["code"]) == (409, "not_pending")


async def test_audit_rows_cannot_be_changed_and_leave_with_the_retention_sweep(accounts) -> None:
    staff = await staff_signed_in(accounts)
    email, _, _ = await member_session(accounts)
    await lookup(accounts, staff, email)
    conn = await asyncpg.connect(accounts.dsn)
    try:
        young = await conn.fetchval("select max(id) from accounts.staff_audit")
        with pytest.raises(asyncpg.RaiseError):
            await conn.execute("update accounts.staff_audit set action = 'erased' where id = $1", young)
        with pytest.raises(asyncpg.RaiseError):
            await conn.execute("delete from accounts.staff_audit where id = $1", young)
        with pytest.raises(asyncpg.RaiseError):
            await conn.execute("truncate accounts.staff_audit")
        old = await conn.fetchval(
            "insert into accounts.staff_audit (at, staff_user_id, action) values (now() - interval '3 years 2 days',"
            " $1, 'member_viewed') returning id",
            uuid4(),
        )
        context = accounts.server.app[accounts_http.CONTEXT]
        accounts.clock.advance(
            days=-3
        )  # three years and two days back is not yet three years' retention before this clock
        counts = await housekeeping.sweep(context)
        assert counts["staff_audit"] == 0
        accounts.clock.advance(days=3)
        counts = await housekeeping.sweep(context)
        print("accounts housekeeping:", counts)
        assert counts["staff_audit"] == 1
        left = {r["id"] for r in await conn.fetch("select id from accounts.staff_audit")}
        assert young in left and old not in left
    finally:
        await conn.close()


async def test_an_unlink_removes_the_membership_unless_a_newer_link_exists(accounts) -> None:
    pool = accounts.server.app[accounts_http.CONTEXT].pool
    email, _, _ = await member_session(accounts)
    user_id = (await query(accounts.dsn, "select id from accounts.users where email = $1", email))[0]["id"]
    now = accounts.clock()

    def linked(at):
        return PinLinkedV1(user_id=user_id, betriebsnummer="1000000001", business_name="Malerei Müller", linked_at=at)

    def unlinked(at):
        return PinUnlinkedV1(
            user_id=user_id,
            betriebsnummer="1000000001",
            business_name="Malerei Müller",
            unlinked_by="member",
            unlinked_at=at,
        )

    async def names():
        rows = await query(accounts.dsn, "select betriebsnummer from accounts.memberships where user_id = $1", user_id)
        return [r["betriebsnummer"] for r in rows]

    assert await memberships.on_linked(pool, linked(now))
    gone = unlinked(now + timedelta(minutes=1))
    assert await memberships.on_unlinked(pool, gone)
    assert await names() == []
    assert await memberships.on_unlinked(pool, gone) is False  # a redelivery: already done
    # re-linked later; the unlink of the old link arrives late and leaves the new one
    assert await memberships.on_linked(pool, linked(now + timedelta(minutes=5)))
    assert await memberships.on_unlinked(pool, unlinked(now + timedelta(minutes=2)))
    assert await names() == ["1000000001"]
    # for a user accounts no longer has: done, not a dead letter
    stranger = PinUnlinkedV1(
        user_id=uuid4(), betriebsnummer="1", business_name="X", unlinked_by="staff", unlinked_at=now
    )
    assert await memberships.on_unlinked(pool, stranger) is True
    stranger_link = PinLinkedV1(user_id=uuid4(), betriebsnummer="1", business_name="X", linked_at=now)
    assert await memberships.on_linked(pool, stranger_link) is True


async def test_staff_sessions_are_shorter(accounts) -> None:
    staff = await staff_signed_in(accounts)
    status, answer = await call(
        accounts, "POST", "/api/v1/accounts/sessions", {"email": staff.email, "password": STAFF_PASSWORD}
    )
    assert status == 201
    lifetime = datetime.fromisoformat(answer["expires_at"]) - accounts.clock()
    assert timedelta(hours=7, minutes=59) < lifetime <= timedelta(hours=8)


async def test_from_create_staff_to_the_staff_area_through_the_gateway(portal) -> None:
    email = new_email("staffstory")
    done = await run_command(
        "accounts", portal.env["accounts"], "create-staff", email, "--first-name", "Kira", "--last-name", "Kammer"
    )
    print(done.output)
    assert done.returncode == 0, done.output
    assert "token" not in done.output
    again = await run_command(
        "accounts", portal.env["accounts"], "create-staff", email, "--first-name", "Kira", "--last-name", "Kammer"
    )
    assert again.returncode == 1, again.output

    async with Client(portal.gateway_url) as client:
        member_email = new_email("promote")
        person = {"first_name": "Erika", "last_name": "Mustermann", "birth_date": "1979-05-04", "email": member_email}
        assert (await client.api("POST", "/api/v1/accounts/registrations", person))[0] == 202
        refused = await run_command(
            "accounts", portal.env["accounts"], "create-staff", member_email, "--first-name", "A", "--last-name", "B"
        )
        assert refused.returncode == 1, refused.output
        role = await query(portal.database_url, "select role from accounts.users where email = $1", member_email)
        assert [r["role"] for r in role] == ["member"]

        # the setup link as notifications reads it: sealed in the event, to the reset page
        (user,) = await query(portal.database_url, "select id from accounts.users where email = $1", email)
        link = await setup_link(portal.database_url, portal.notifications_private_key, user["id"])
        assert link.split("?")[0].endswith("/passwort-zuruecksetzen")
        token = link.split("token=", 1)[1]
        reset = {"token": token, "new_password": STAFF_PASSWORD}
        assert (await client.api("POST", "/api/v1/accounts/password/reset", reset))[0] == 204
        status, answer = await client.api(
            "POST", "/api/v1/accounts/sessions", {"email": email, "password": STAFF_PASSWORD}
        )
        assert (status, answer["role"]) == (201, "staff_pending")
        status, body = await client.api("GET", f"{STAFF_API}/members?email={member_email}")
        assert (status, body["error"]["code"]) == (403, "second_factor_required")
        status, setup = await client.api("POST", f"{STAFF_API}/second-factor/setup")
        assert status == 200, setup
        assert setup["otpauth_uri"].startswith("otpauth://totp/")
        code = pyotp.TOTP(setup["secret"]).now()
        status, codes = await client.api("POST", f"{STAFF_API}/second-factor/setup/confirm", {"code": code})
        assert status == 200, codes
        assert len(codes["recovery_codes"]) == 10
        status, found = await client.api("GET", f"{STAFF_API}/members?email={member_email}")
        assert status == 200, found
        assert found["email"] == member_email and found["state"] == "pending"
