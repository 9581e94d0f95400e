"""The staff gate: who may reach the staff area `/intern…` and the services' `/api/v1/<service>/staff/…`.

For the page modules of /intern (staff_pages.py among them) — the one helper to use:

    from services.gateway.staff_access import staff_required

    @staff_required
    async def member(request: web.Request) -> web.Response: ...

`staff_required` lets a view run only for a staff session past its second factor: anonymous →
the login page; a member → a German 403 page; a staff session without the second factor → the
second-factor page (/intern/anmeldung); accounts unreachable → a 503 page. The middleware
`staff_gate` applies the same rules to every /intern path and to the staff API before any view
or the proxy runs; the decorator keeps a view safe should it ever be mounted elsewhere. The
services check their own staff routes again from the signed identity (runtime/staff.py).

Staff sessions have no business with the members' pages: "/", "Mein Konto" and "Mein Betrieb"
send them on to /intern (pins refuses staff anyway)."""

import functools

from aiohttp import web

from runtime.errors import UNAVAILABLE, UNAVAILABLE_CODE, ApiError
from runtime.sessions import STAFF, STAFF_PENDING
from runtime.staff import NOT_LOGGED_IN, SECOND_FACTOR_REQUIRED, STAFF_ONLY
from services.gateway.access import CHANGE_PAGE, LOGIN_PAGE, UNAVAILABLE_TITLE
from services.gateway.rendering import message_page
from services.gateway.session_cache import SESSION
from services.gateway.sessions import UNAVAILABLE as SESSION_UNAVAILABLE

STAFF_HOME = "/intern"
SECOND_FACTOR_PAGE = "/intern/anmeldung"
# What a staff session may call before its second factor: the second factor itself.
SECOND_FACTOR_API = "/api/v1/accounts/staff/second-factor"
# The members' pages a staff session is sent away from (exact paths, and below the prefixes).
MEMBER_PAGES = frozenset({"/", "/konto", "/konto-loeschen", "/mein-betrieb"})
MEMBER_PREFIXES = ("/mein-betrieb/",)
FORBIDDEN_TITLE = "Kein Zugang zum Mitarbeiterbereich"


def is_staff_api(path: str) -> bool:
    """`/api/v1/<service>/staff…`, however the path is spelt (empty segments, case): the
    service's router may be more lenient than a plain prefix check."""
    parts = [part.lower() for part in path.split("/") if part]
    return len(parts) >= 4 and parts[:2] == ["api", "v1"] and parts[3] == "staff"


def is_staff_page(path: str) -> bool:
    return path == STAFF_HOME or path.startswith(STAFF_HOME + "/")


def is_second_factor_page(path: str) -> bool:
    return path == SECOND_FACTOR_PAGE or path.startswith(SECOND_FACTOR_PAGE + "/")


def is_second_factor_api(path: str) -> bool:
    # Compared on the path as sent: the proxy forwards exactly this spelling.
    return path == SECOND_FACTOR_API or path.startswith(SECOND_FACTOR_API + "/")


def _role(request: web.Request) -> str | None:
    found = request.get(SESSION)
    return None if found is None else found.user.role


def check_api(request: web.Request) -> None:
    """Raises the JSON error a staff API call gets; returns for a staff session allowed to pass."""
    if request.get(SESSION_UNAVAILABLE):
        raise ApiError(503, UNAVAILABLE_CODE, UNAVAILABLE)
    role = _role(request)
    if role is None:
        raise ApiError(401, "unauthenticated", NOT_LOGGED_IN)
    if role == STAFF_PENDING and is_second_factor_api(request.raw_path.partition("?")[0]):
        return
    if role == STAFF_PENDING:
        raise ApiError(403, "second_factor_required", SECOND_FACTOR_REQUIRED)
    if role != STAFF:
        raise ApiError(403, "staff_only", STAFF_ONLY)


def refused_page(request: web.Request, *, second_factor_page: bool = False) -> web.StreamResponse | None:
    """The answer a staff page gives this session instead of itself, or None to show it.
    `second_factor_page`: the page of the second factor, which a pending staff session may see."""
    if request.get(SESSION_UNAVAILABLE):
        return message_page(request, 503, UNAVAILABLE_TITLE, UNAVAILABLE, links=[("/", "Zur Startseite")])
    found = request.get(SESSION)
    if found is None:
        raise web.HTTPSeeOther(LOGIN_PAGE)
    role = found.user.role
    if role not in (STAFF, STAFF_PENDING):
        return message_page(request, 403, FORBIDDEN_TITLE, STAFF_ONLY, links=[("/konto", "Mein Konto")])
    if found.must_change_password:
        raise web.HTTPSeeOther(CHANGE_PAGE)
    if role == STAFF_PENDING and not second_factor_page:
        raise web.HTTPSeeOther(SECOND_FACTOR_PAGE)
    return None


def staff_required(view):
    """Page views of the staff area: only staff past the second factor (see the module's doc)."""

    @functools.wraps(view)
    async def guarded(request: web.Request) -> web.StreamResponse:
        refused = refused_page(request)
        return refused if refused is not None else await view(request)

    return guarded


def second_factor_session(view):
    """The second-factor pages: staff sessions with or without the second factor."""

    @functools.wraps(view)
    async def guarded(request: web.Request) -> web.StreamResponse:
        refused = refused_page(request, second_factor_page=True)
        return refused if refused is not None else await view(request)

    return guarded


@web.middleware
async def staff_gate(request: web.Request, handler):
    path = request.path
    if path.startswith("/api/"):
        if is_staff_api(path):
            check_api(request)
        return await handler(request)
    if is_staff_page(path):
        refused = refused_page(request, second_factor_page=is_second_factor_page(path))
        return refused if refused is not None else await handler(request)
    if (path in MEMBER_PAGES or path.startswith(MEMBER_PREFIXES)) and _role(request) in (STAFF, STAFF_PENDING):
        raise web.HTTPSeeOther(STAFF_HOME)
    return await handler(request)
