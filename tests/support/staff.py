"""Chamber staff in tests: an account made as `create-staff` makes it, its password set with the
setup link, signed in, and (if asked) past the second factor — on accounts in this process."""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyotp

from runtime.crypto import unseal
from runtime.sessions import RESOLVE_PATH, SessionUser
from services.accounts import http as accounts_http
from services.accounts.staff_setup import NewStaff, create_staff
from tests.support.client import new_email, query
from tests.support.inprocess import call, login

STAFF_PASSWORD = "Kammerbote bringt die Post"


@dataclass
class StaffLogin:
    email: str
    user_id: str
    user: str  # the identity header's user value, as the gateway would sign it
    token: str  # the session cookie
    secret: str = ""
    recovery_codes: list[str] = field(default_factory=list)


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


async def setup_link(dsn: str, private_key: str, user_id) -> str:
    rows = await query(
        dsn,
        "select payload from accounts.outbox where subject = 'user.password_reset_requested.v1'"
        " and payload->>'user_id' = $1 order by id desc limit 1",
        str(user_id),
    )
    payload = _json(rows[0]["payload"])
    assert payload["purpose"] == "staff_setup"
    return unseal(private_key, payload["reset_link"])


async def identity(client, token: str) -> str:
    status, body = await call(client, "POST", RESOLVE_PATH, {"token": token})
    assert status == 200, body
    return SessionUser(body["user_id"], body["session_id"], body["started_at_ms"], body["role"]).header()


async def staff_signed_in(client, *, enrolled: bool = True) -> StaffLogin:
    """Created, password set, logged in; `enrolled`: past the second factor with a TOTP app."""
    context = client.server.app[accounts_http.CONTEXT]
    email = new_email("staff")
    person = NewStaff(email=email, first_name="Kira", last_name="Kammer")
    created = await create_staff(
        context.pool, person, datetime.now(UTC), context.token_key, context.notifications_key, context.public_url
    )
    link = await setup_link(client.dsn, client.private_key, created.user_id)
    reset = {"token": link.split("token=")[1], "new_password": STAFF_PASSWORD}
    assert (await call(client, "POST", "/api/v1/accounts/password/reset", reset))[0] == 204
    token = await login(client, email, STAFF_PASSWORD)
    staff = StaffLogin(email, str(created.user_id), await identity(client, token), token)
    if enrolled:
        await enroll(client, staff)
    return staff


async def enroll(client, staff: StaffLogin) -> None:
    status, body = await call(client, "POST", "/api/v1/accounts/staff/second-factor/setup", user=staff.user)
    assert status == 200, body
    staff.secret = body["secret"]
    code = pyotp.TOTP(staff.secret).at(client.clock())
    status, body = await call(
        client, "POST", "/api/v1/accounts/staff/second-factor/setup/confirm", {"code": code}, user=staff.user
    )
    assert status == 200, body
    staff.recovery_codes = body["recovery_codes"]
    staff.user = await identity(client, staff.token)
    assert staff.user.endswith(":staff")
