"""What the staff area's pages (/intern) share: their addresses, the German time, the search page
(the area's home, where an unknown member or business is reported) and how a refusal is shown."""

from collections.abc import Mapping
from types import MappingProxyType
from uuid import UUID

from aiohttp import web

from runtime.german import german_datetime
from services.gateway import upstream
from services.gateway.access import LOGIN_PAGE, UNAVAILABLE_TITLE
from services.gateway.rendering import message_page, render
from services.gateway.sessions import forget_session
from services.gateway.staff_access import STAFF_HOME

HOME = STAFF_HOME
MEMBER_PAGE = "/intern/mitglieder"
BUSINESS_PAGE = "/intern/betriebe"
AUDIT_PAGE = "/intern/protokoll"  # gateway A's audit_pages
ERASED = "Das Konto und die Angaben zur Person wurden gelöscht."
# The search page's `?ergebnis=` sentences (an erased member has no page of their own to return to).
HOME_RESULTS = {"konto-geloescht": ERASED}
NOT_FOUND_STATUSES = (400, 404, 422)
NO_RESULTS: Mapping[str, str] = MappingProxyType({})


def when(value: object) -> str:
    """A moment from a service as "TT.MM.JJJJ, HH:MM Uhr" in Wiesbaden; nothing stays nothing."""
    if not value:
        return ""
    try:
        return german_datetime(str(value))
    except ValueError:
        return str(value)


def page(
    request: web.Request, template: str, status: int = 200, *, results: Mapping[str, str] = NO_RESULTS, **context
) -> web.Response:
    """`results`: the fixed sentences `?ergebnis=<name>` may show; nothing from the URL is echoed."""
    context.setdefault("notice", results.get(request.query.get("ergebnis", "")))
    context.setdefault("error", None)
    return render(request, template, status, when=when, home=HOME, audit_page=AUDIT_PAGE, **context)


def search_page(request: web.Request, status: int = 200, **context) -> web.Response:
    context.setdefault("email", "")
    context.setdefault("betriebsnummer", "")
    context.setdefault("errors", {})
    return page(request, "intern_home.html", status, results=HOME_RESULTS, **context)


def not_found(request: web.Request, answer: upstream.Answer, field: str, value: str) -> web.Response:
    """An unknown or malformed search: the search page again, with the service's German message."""
    message = answer.fields.get(field) or answer.message
    return search_page(request, answer.status, errors={field: message}, **{field: value})


def refused(request: web.Request, answer: upstream.Answer) -> web.Response:
    """What no page of the area can go on from: the session ended, the role was refused, or a
    service is away."""
    if answer.status == 401:
        forget_session(request)
        raise web.HTTPSeeOther(LOGIN_PAGE)
    back = [(HOME, "Interner Bereich")]
    if answer.status == 403:
        return message_page(request, 403, "Zugriff verweigert", answer.message, links=back)
    return message_page(request, 503, UNAVAILABLE_TITLE, answer.message, links=back)


def cannot_go_on(answer: upstream.Answer) -> bool:
    return answer.status in (401, 403) or answer.status >= 500


def user_id_of(request: web.Request) -> str:
    try:
        return str(UUID(request.match_info["user_id"]))
    except ValueError:
        raise web.HTTPNotFound from None
