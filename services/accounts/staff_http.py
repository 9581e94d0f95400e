"""The staff routes of accounts (api.md): the second factor, and what staff do with a member's
account. Each checks the caller itself — the signed role first (runtime.staff), then what accounts
has stored of the session now — whatever the gateway's gate already did."""

from uuid import UUID

from aiohttp import web

from runtime.api import Endpoint, answer, parse_query
from runtime.errors import ApiError, parse_json
from runtime.sessions import SESSION_HEADER, SESSION_REFRESH, STAFF, STAFF_PENDING, SessionUser
from runtime.staff import NOT_LOGGED_IN, SECOND_FACTOR_REQUIRED, STAFF_ONLY, AuditPage, EmailQuery, staff_user
from runtime.web import current_identity
from services.accounts import otp
from services.accounts.context import Context
from services.accounts.forms import EmailIn
from services.accounts.repository import staff as staff_repo
from services.accounts.second_factor import SecondFactors
from services.accounts.staff import Staff
from services.accounts.staff_forms import (
    AuditOut,
    CodeIn,
    RecoveryCodesOut,
    SecondFactorOut,
    SetupOut,
    StaffMemberOut,
)

STAFF_CASES = web.AppKey("staff", Staff)
SECOND_FACTORS = web.AppKey("second_factors", SecondFactors)
STAFF_CONTEXT = web.AppKey("staff_context", Context)

NOT_FOUND = "Zu dieser Angabe gibt es kein Konto im Kundenportal."
BAD_PAGE = "Bitte geben Sie eine gültige Seite an."


async def _stored(request: web.Request, user: SessionUser, *, passed: bool) -> SessionUser:
    context = request.app[STAFF_CONTEXT]
    now = context.clock()
    async with context.pool.acquire() as conn:
        row = await staff_repo.session_account(conn, user.session_id, user.user_id)
    idle = min(context.lifetimes.session_idle, otp.STAFF_SESSION_IDLE)
    if row is None or row["expires_at"] <= now or row["last_seen_at"] + idle <= now:
        raise ApiError(401, "unauthenticated", NOT_LOGGED_IN)
    if row["role"] != "staff":
        raise ApiError(403, "staff_only", STAFF_ONLY)
    if passed and row["second_factor_at"] is None:
        raise ApiError(403, "second_factor_required", SECOND_FACTOR_REQUIRED)
    return user


async def staff_caller(request: web.Request) -> SessionUser:
    """Staff past the second factor, by the signed role and by the stored session alike."""
    return await _stored(request, staff_user(request), passed=True)


async def second_factor_caller(request: web.Request) -> SessionUser:
    """A staff account's session before or after its second factor; members 403 staff_only."""
    user = SessionUser.parse(current_identity(request).user)
    if user is None:
        raise ApiError(401, "unauthenticated", NOT_LOGGED_IN)
    if user.role not in (STAFF_PENDING, STAFF):
        raise ApiError(403, "staff_only", STAFF_ONLY)
    return await _stored(request, user, passed=False)


def _user_id(request: web.Request) -> UUID:
    try:
        return UUID(request.match_info["user_id"])
    except ValueError:
        raise ApiError(404, "member_not_found", NOT_FOUND) from None


def _refreshed(response: web.Response) -> web.Response:
    # the gateway re-resolves the session: its role is now staff
    response.headers[SESSION_HEADER] = SESSION_REFRESH
    return response


async def second_factor_status(request: web.Request) -> web.Response:
    user = await second_factor_caller(request)
    return answer(SecondFactorOut(enrolled=await request.app[SECOND_FACTORS].enrolled(user)))


async def second_factor_setup(request: web.Request) -> web.Response:
    user = await second_factor_caller(request)
    setup = await request.app[SECOND_FACTORS].setup(user)
    return answer(SetupOut(secret=setup.secret, otpauth_uri=setup.otpauth_uri))


async def second_factor_confirm(request: web.Request) -> web.Response:
    user = await second_factor_caller(request)
    form = await parse_json(request, CodeIn)
    codes = await request.app[SECOND_FACTORS].confirm_setup(user, form.code)
    return _refreshed(answer(RecoveryCodesOut(recovery_codes=codes)))


async def second_factor_verify(request: web.Request) -> web.Response:
    user = await second_factor_caller(request)
    form = await parse_json(request, CodeIn)
    await request.app[SECOND_FACTORS].verify(user, form.code)
    return _refreshed(web.Response(status=204))


async def member(request: web.Request) -> web.Response:
    staff = await staff_caller(request)
    query = parse_query(request, EmailQuery)
    try:
        form = EmailIn(email=query.email)
    except ValueError:
        raise ApiError(404, "member_not_found", NOT_FOUND) from None
    return answer(await request.app[STAFF_CASES].member(staff, email=form.email))


async def member_by_id(request: web.Request) -> web.Response:
    staff = await staff_caller(request)
    return answer(await request.app[STAFF_CASES].member(staff, user_id=_user_id(request)))


def _action(name: str, status: int):
    async def handler(request: web.Request) -> web.Response:
        staff = await staff_caller(request)
        await getattr(request.app[STAFF_CASES], name)(staff, _user_id(request))
        return web.Response(status=status)

    return handler


async def audit_log(request: web.Request) -> web.Response:
    await staff_caller(request)
    page = parse_query(request, AuditPage, BAD_PAGE)
    return answer(await request.app[STAFF_CASES].audit_page(page.before, page.limit))


API = "/api/v1/accounts/staff"
MEMBER = f"{API}/members/{{user_id}}"
ENDPOINTS = (
    Endpoint(
        "GET",
        f"{API}/second-factor",
        second_factor_status,
        "Staff: is the second factor set up?",
        answer=SecondFactorOut,
        session=True,
    ),
    Endpoint(
        "POST",
        f"{API}/second-factor/setup",
        second_factor_setup,
        "Staff: a new TOTP secret to set up (until one is confirmed)",
        answer=SetupOut,
        session=True,
    ),
    Endpoint(
        "POST",
        f"{API}/second-factor/setup/confirm",
        second_factor_confirm,
        "Staff: confirm the TOTP app with a code; the recovery codes, shown once",
        CodeIn,
        RecoveryCodesOut,
        session=True,
    ),
    Endpoint(
        "POST",
        f"{API}/second-factor",
        second_factor_verify,
        "Staff: pass the second factor with a TOTP or recovery code",
        CodeIn,
        status=204,
        session=True,
    ),
    Endpoint(
        "GET",
        f"{API}/members",
        member,
        "Staff: a member's account, found by e-mail (?email=)",
        answer=StaffMemberOut,
        session=True,
        query=EmailQuery,
    ),
    Endpoint(
        "GET",
        MEMBER,
        member_by_id,
        "Staff: a member's account, by id (the staff area's member page: no address in its URL)",
        answer=StaffMemberOut,
        session=True,
    ),
    Endpoint(
        "POST",
        f"{MEMBER}/confirmation",
        _action("resend_confirmation", 202),
        "Staff: send a pending account a new confirmation mail",
        status=202,
        session=True,
    ),
    Endpoint(
        "POST",
        f"{MEMBER}/initial-password",
        _action("new_initial_password", 202),
        "Staff: a new initial password by mail; every session ends",
        status=202,
        session=True,
    ),
    Endpoint(
        "DELETE",
        f"{MEMBER}/throttle",
        _action("lift_throttle", 204),
        "Staff: lift the login throttle (the member is told)",
        status=204,
        session=True,
    ),
    Endpoint(
        "POST",
        f"{MEMBER}/deactivation",
        _action("deactivate", 204),
        "Staff: deactivate; every session ends, login refused",
        status=204,
        session=True,
    ),
    Endpoint(
        "DELETE",
        f"{MEMBER}/deactivation",
        _action("reactivate", 204),
        "Staff: reactivate a deactivated account",
        status=204,
        session=True,
    ),
    Endpoint(
        "DELETE",
        MEMBER,
        _action("erase", 204),
        "Staff: erase the account as 'Konto löschen' does",
        status=204,
        session=True,
    ),
    Endpoint(
        "GET",
        f"{API}/audit",
        audit_log,
        "Staff: accounts' audit, newest first (?before=&limit=)",
        answer=AuditOut,
        session=True,
        query=AuditPage,
    ),
)
