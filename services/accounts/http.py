"""The HTTP entry points of accounts: parse, call the use case, answer. The routes table is at the end."""

from aiohttp import web

from runtime.api import Accepted, Endpoint, add_endpoints, answer
from runtime.errors import ApiError, json_response, parse_json
from runtime.sessions import (
    RESOLVE_PATH,
    SESSION_END,
    SESSION_HEADER,
    SESSION_REFRESH,
    SessionUser,
    cookie_name,
    device_cookie_name,
)
from runtime.web import current_identity
from services.accounts import domain, staff_http
from services.accounts.context import Context
from services.accounts.forms import (
    ChangeIn,
    EmailIn,
    LoginIn,
    NewSessionOut,
    ProfileOut,
    RegistrationIn,
    ResetIn,
    TokenIn,
)
from services.accounts.member_data import AccountsExportOut, DeleteIn, MemberData
from services.accounts.password import Passwords
from services.accounts.registration import Registration, Registrations
from services.accounts.sessions import NewSession, Sessions

REGISTRATIONS = web.AppKey("registrations", Registrations)
SESSIONS = web.AppKey("sessions", Sessions)
PASSWORDS = web.AppKey("passwords", Passwords)
CONTEXT = web.AppKey("context", Context)
MEMBER_DATA = web.AppKey("member_data", MemberData)

ACCEPTED = Accepted(
    status="accepted",
    message=(
        "Vielen Dank! Sie erhalten umgehend eine Registrierungs-E-Mail. Bitte bestätigen Sie darin "
        "per Mausklick Ihre E-Mail-Adresse."
    ),
)
RESET_SENT = Accepted(
    status="accepted",
    message=(
        "Wenn zu dieser E-Mail-Adresse ein Konto besteht, erhalten Sie in Kürze eine E-Mail mit einem "
        "Link, über den Sie ein neues Passwort vergeben können."
    ),
)
CONFIRMED = Accepted(
    status="confirmed",
    message=(
        "Vielen Dank! Ihre E-Mail-Adresse ist bestätigt. Ein Passwort zu Ihrer Registrierung "
        "wird Ihnen per E-Mail zugesandt."
    ),
)
NOT_LOGGED_IN = "Bitte melden Sie sich an."


async def session_user(request: web.Request) -> SessionUser:
    user = SessionUser.parse(current_identity(request).user)
    if user is None or not await request.app[SESSIONS].alive(user):
        raise ApiError(401, "unauthenticated", NOT_LOGGED_IN)
    return user


async def register(request: web.Request) -> web.Response:
    registrations = request.app[REGISTRATIONS]
    today = domain.local_today(registrations.clock())
    form = await parse_json(request, RegistrationIn, {"today": today})
    await registrations.register(Registration(form.first_name, form.last_name, form.email, form.birth_date))
    return answer(ACCEPTED, 202)


async def resend(request: web.Request) -> web.Response:
    form = await parse_json(request, EmailIn)
    await request.app[REGISTRATIONS].resend_confirmation(form.email)
    return answer(ACCEPTED, 202)


async def confirm(request: web.Request) -> web.Response:
    form = await parse_json(request, TokenIn)
    await request.app[REGISTRATIONS].confirm(form.token)
    return answer(CONFIRMED)


async def login(request: web.Request) -> web.Response:
    form = await parse_json(request, LoginIn)
    device = request.cookies.get(device_cookie_name(request.app[CONTEXT].public_url))
    session = await request.app[SESSIONS].login(form.email, form.password, current_identity(request).client, device)
    response = answer(
        NewSessionOut(
            must_change_password=session.must_change_password, expires_at=session.expires_at, role=session.role
        ),
        201,
    )
    set_cookies(request, response, session)
    response.headers[SESSION_HEADER] = SESSION_REFRESH  # a cookie the gateway cached is replaced
    return response


async def logout(request: web.Request) -> web.Response:
    await request.app[SESSIONS].logout(await session_user(request))
    response = web.Response(status=204)
    response.headers[SESSION_HEADER] = SESSION_REFRESH
    # With the attributes the cookie was set with: a browser ignores a `__Host-` cookie's
    # deletion that lacks Secure, and the member would stay signed in.
    public_url = request.app[CONTEXT].public_url
    response.del_cookie(
        cookie_name(public_url), path="/", secure=public_url.startswith("https://"), httponly=True, samesite="Lax"
    )
    return response


async def me(request: web.Request) -> web.Response:
    user = SessionUser.parse(current_identity(request).user)
    profile = await request.app[SESSIONS].profile(user) if user is not None else None
    if profile is None:
        raise ApiError(401, "unauthenticated", NOT_LOGGED_IN)
    return answer(profile)


async def resolve(request: web.Request) -> web.Response:
    form = await parse_json(request, TokenIn)
    found = await request.app[SESSIONS].resolve(form.token)
    if found is None:
        raise ApiError(404, "session_unknown", NOT_LOGGED_IN)
    return json_response(
        {
            "user_id": str(found.user.user_id),
            "session_id": str(found.user.session_id),
            "started_at_ms": found.user.started_at_ms,
            "must_change_password": found.must_change_password,
            "expires_at": found.expires_at.isoformat(),
            "role": found.role,
        }
    )


async def change_password(request: web.Request) -> web.Response:
    user = await session_user(request)
    form = await parse_json(request, ChangeIn)
    device = request.cookies.get(device_cookie_name(request.app[CONTEXT].public_url))
    client = current_identity(request).client
    await request.app[PASSWORDS].change(user, form.current_password, form.new_password, client, device)
    # The session stays, but what the gateway cached of it (must_change_password) is stale.
    return web.Response(status=204, headers={SESSION_HEADER: SESSION_REFRESH})


async def export(request: web.Request) -> web.Response:
    return answer(await request.app[MEMBER_DATA].export(await session_user(request)))


async def delete_account(request: web.Request) -> web.Response:
    user = await session_user(request)
    form = await parse_json(request, DeleteIn)
    device = request.cookies.get(device_cookie_name(request.app[CONTEXT].public_url))
    await request.app[MEMBER_DATA].delete(user, form.password, current_identity(request).client, device)
    # the session is gone with the account; the gateway clears the cookie and its cache
    return web.Response(status=204, headers={SESSION_HEADER: SESSION_END})


async def forgot_password(request: web.Request) -> web.Response:
    form = await parse_json(request, EmailIn)
    await request.app[PASSWORDS].forgot(form.email)
    return answer(RESET_SENT, 202)


async def reset_password(request: web.Request) -> web.Response:
    form = await parse_json(request, ResetIn)
    device = request.cookies.get(device_cookie_name(request.app[CONTEXT].public_url))
    done = await request.app[PASSWORDS].reset(form.token, form.new_password, device)
    response = web.Response(status=204)
    if done.device_token:
        set_device_cookie(request, response, done.device_token)
    return response


def set_cookies(request: web.Request, response: web.Response, session: NewSession) -> None:
    context = request.app[CONTEXT]
    response.set_cookie(
        cookie_name(context.public_url),
        session.token,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=context.public_url.startswith("https://"),
        max_age=int(context.lifetimes.session_absolute.total_seconds()),
    )
    if session.device_token:
        set_device_cookie(request, response, session.device_token)


def set_device_cookie(request: web.Request, response: web.Response, token: str) -> None:
    context = request.app[CONTEXT]
    response.set_cookie(
        device_cookie_name(context.public_url),
        token,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=context.public_url.startswith("https://"),
        max_age=int(context.lifetimes.device.total_seconds()),
    )


API = "/api/v1/accounts"
ENDPOINTS = (
    Endpoint(
        "POST",
        f"{API}/registrations",
        register,
        "Register (neu registrieren); the same 202 for a known address",
        RegistrationIn,
        Accepted,
        202,
    ),
    Endpoint("POST", f"{API}/registrations/resend", resend, "Send the confirmation mail again", EmailIn, Accepted, 202),
    Endpoint(
        "POST",
        f"{API}/registrations/confirm",
        confirm,
        "Confirm the e-mail address; the initial password is mailed",
        TokenIn,
        Accepted,
    ),
    Endpoint("POST", f"{API}/sessions", login, "Log in (Login): sets the session cookie", LoginIn, NewSessionOut, 201),
    Endpoint(
        "DELETE", f"{API}/sessions/current", logout, "Log out (Abmelden): clears the cookie", status=204, session=True
    ),
    Endpoint(
        "GET", f"{API}/me", me, "The member's profile with the linked businesses", answer=ProfileOut, session=True
    ),
    Endpoint(
        "POST",
        f"{API}/password",
        change_password,
        "Change the password (Passwort ändern); other sessions end",
        ChangeIn,
        status=204,
        session=True,
    ),
    Endpoint(
        "GET",
        f"{API}/me/export",
        export,
        "Accounts' part of 'Meine Daten herunterladen' (the gateway's GET /api/v1/export joins them)",
        answer=AccountsExportOut,
        session=True,
    ),
    Endpoint(
        "DELETE",
        f"{API}/me",
        delete_account,
        "Konto löschen: the account and every session end; user.deleted.v1 erases the rest",
        DeleteIn,
        status=204,
        session=True,
    ),
    Endpoint(
        "POST",
        f"{API}/password/forgot",
        forgot_password,
        "Passwort vergessen: a reset link by mail",
        EmailIn,
        Accepted,
        202,
    ),
    Endpoint(
        "POST", f"{API}/password/reset", reset_password, "Set a new password with the reset link", ResetIn, status=204
    ),
)


ENDPOINTS += staff_http.ENDPOINTS


def add_routes(app: web.Application) -> None:
    add_endpoints(app, ENDPOINTS)
    app.router.add_post(RESOLVE_PATH, resolve)  # the gateway's, never public
