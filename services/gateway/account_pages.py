"""Login, logout and the personal customer account. Accounts sets and clears the session
cookie; these views hand its Set-Cookie on to the browser unchanged."""

from aiohttp import web

from runtime.sessions import STAFF, STAFF_PENDING
from services.gateway import upstream, way_back
from services.gateway.access import (
    ACCOUNT_PAGE,
    CHANGE_PAGE,
    LOGIN_PAGE,
    UNAVAILABLE_TITLE,
    current_session,
    login_required,
)
from services.gateway.rendering import message_page, render
from services.gateway.session_end import add_cookies, end_session
from services.gateway.sessions import forget_session
from services.gateway.staff_access import SECOND_FACTOR_PAGE
from services.gateway.upstream import ACCOUNTS_API

MISMATCH = "Die Passwörter stimmen nicht überein."
PASSWORD_FIELDS = ("current_password", "new_password", "new_password_repeat")


def add_routes(app: web.Application) -> None:
    app.router.add_routes(
        [
            web.get(LOGIN_PAGE, login_form),
            web.post(LOGIN_PAGE, login),
            web.post("/abmelden", logout),
            web.get(ACCOUNT_PAGE, account),
            web.get(CHANGE_PAGE, password_form),
            web.post(CHANGE_PAGE, change_password),
        ]
    )


def redirect(location: str, cookies: tuple[str, ...] = ()) -> web.Response:
    response = web.Response(status=303, headers={"Location": location})
    for cookie in cookies:
        response.headers.add("Set-Cookie", cookie)
    return response


async def login_form(request: web.Request) -> web.Response:
    back = way_back.target(request.query.get(way_back.PARAM))
    if current_session(request) is not None:
        raise web.HTTPSeeOther(back or ACCOUNT_PAGE)
    return render(request, "login.html", email="", errors={}, message=None, back=back)


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    email = str(form.get("email", "")).strip()
    back = way_back.target(form.get(way_back.PARAM))
    # The password goes on as typed: accounts alone decides what surrounding spaces mean.
    payload = {"email": email, "password": str(form.get("password", ""))}
    answer = await upstream.post_json(request, "accounts", ACCOUNTS_API + "/sessions", payload)
    if answer.status == 201:
        forget_session(request)
        forced = bool(answer.body.get("must_change_password"))
        return redirect(CHANGE_PAGE if forced else after_login(answer.body, back), answer.cookies)
    return render(
        request,
        "login.html",
        answer.status if answer.status >= 400 else 502,
        email=email,
        errors=answer.fields,
        message=answer.message,
        back=back,
    )


def after_login(body: dict, back: str | None = None) -> str:
    """Staff go on to their second factor (then the staff area), members to the page they asked
    for before the login (way_back), else to their account."""
    return SECOND_FACTOR_PAGE if body.get("role") in (STAFF, STAFF_PENDING) else back or ACCOUNT_PAGE


async def logout(request: web.Request) -> web.Response:
    """Ends the session where accounts still knows it; the cookie goes in any case."""
    return add_cookies(redirect("/?hinweis=abgemeldet"), await end_session(request))


@login_required
async def account(request: web.Request) -> web.Response:
    answer = await upstream.call(request, "GET", "accounts", ACCOUNTS_API + "/me")
    if answer.status == 401:
        forget_session(request)
        raise web.HTTPSeeOther(LOGIN_PAGE)
    if not answer.ok:
        return message_page(request, answer.status, UNAVAILABLE_TITLE, answer.message)
    return render(request, "konto.html", profile=answer.body)


@login_required(before_change=True)
async def password_form(request: web.Request) -> web.Response:
    return _password_page(request, 200, errors={}, message=None)


@login_required(before_change=True)
async def change_password(request: web.Request) -> web.Response:
    form = await request.post()
    values = {name: str(form.get(name, "")) for name in PASSWORD_FIELDS}
    if values["new_password"] != values["new_password_repeat"]:
        return _password_page(request, 422, errors={"new_password_repeat": MISMATCH}, message=None)
    payload = {"current_password": values["current_password"], "new_password": values["new_password"]}
    answer = await upstream.post_json(request, "accounts", ACCOUNTS_API + "/password", payload)
    if answer.ok:
        forget_session(request)
        return redirect(f"{ACCOUNT_PAGE}?hinweis=passwort-geaendert", answer.cookies)
    if answer.status == 401:
        forget_session(request)
        raise web.HTTPSeeOther(LOGIN_PAGE)
    return _password_page(request, answer.status, errors=answer.fields, message=answer.message)


def _password_page(request: web.Request, status: int, **context) -> web.Response:
    found = current_session(request)
    return render(
        request, "password_change.html", status, forced=found is not None and found.must_change_password, **context
    )
