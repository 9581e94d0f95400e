"""Who may pass: the API gate for sessions that must first change the initial password, and
`login_required` for the pages of the customer account."""

import functools

from aiohttp import web

from runtime.errors import UNAVAILABLE, UNAVAILABLE_CODE, ApiError
from services.gateway import way_back
from services.gateway.rendering import message_page
from services.gateway.session_cache import SESSION, Resolved
from services.gateway.sessions import UNAVAILABLE as SESSION_UNAVAILABLE

CHANGE_PAGE = "/passwort-aendern"
LOGIN_PAGE = "/login"
ACCOUNT_PAGE = "/konto"  # where a login leads when no page was asked for
CHANGE_REQUIRED_CODE = "password_change_required"
CHANGE_REQUIRED = "Bitte vergeben Sie zuerst ein eigenes Passwort."
# What a session with the initial password may still do through the API.
ALLOWED_BEFORE_CHANGE = frozenset(
    {
        ("GET", "/api/v1/accounts/me"),
        ("POST", "/api/v1/accounts/password"),
        ("DELETE", "/api/v1/accounts/sessions/current"),
    }
)
UNAVAILABLE_TITLE = "Dienst nicht erreichbar"


def current_session(request: web.Request) -> Resolved | None:
    return request.get(SESSION)


@web.middleware
async def api_gate(request: web.Request, handler):
    if request.path.startswith("/api/"):
        if request.get(SESSION_UNAVAILABLE):
            # Whether the cookie is still good is unknown: answering as anonymous would look
            # like a logout to the client.
            raise ApiError(503, UNAVAILABLE_CODE, UNAVAILABLE)
        found = request.get(SESSION)
        if (
            found is not None
            and found.must_change_password
            and (request.method, request.path) not in ALLOWED_BEFORE_CHANGE
        ):
            raise ApiError(403, CHANGE_REQUIRED_CODE, CHANGE_REQUIRED)
    return await handler(request)


def login_required(view=None, *, before_change: bool = False):
    """Anonymous → the login page; initial password → the change page (unless `before_change`);
    accounts unreachable → a 503 page."""
    if view is None:
        return functools.partial(login_required, before_change=before_change)

    @functools.wraps(view)
    async def guarded(request: web.Request) -> web.StreamResponse:
        if request.get(SESSION_UNAVAILABLE):
            return message_page(request, 503, UNAVAILABLE_TITLE, UNAVAILABLE, links=[("/", "Zur Startseite")])
        found = request.get(SESSION)
        if found is None:
            raise web.HTTPSeeOther(way_back.login_page(request, LOGIN_PAGE, ACCOUNT_PAGE))
        if found.must_change_password and not before_change:
            raise web.HTTPSeeOther(CHANGE_PAGE)
        return await view(request)

    return guarded
