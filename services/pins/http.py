"""The HTTP entry points of pins: parse, call the use case, answer. The routes table is at the end."""

from datetime import date
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel, field_validator

from runtime.api import Accepted, Endpoint, add_endpoints, answer, parse_query
from runtime.errors import ApiError, parse_json
from runtime.service import POOL
from runtime.sessions import SESSION_END, SESSION_HEADER, SessionUser
from runtime.staff import AuditPage, refuse_staff, staff_user
from runtime.web import current_identity
from services.pins import audit, domain, member_data, unlinking
from services.pins import repository as repo
from services.pins.answers import BusinessesOut, RequestedOut, RequestsOut
from services.pins.letters import Letters
from services.pins.links import Links
from services.pins.staff import Staff, StaffBusinessOut, StaffLetterSentOut
from services.pins.unlinking import Unlinking

LETTERS = web.AppKey("letters", Letters)
LINKS = web.AppKey("links", Links)
UNLINKING = web.AppKey("unlinking", Unlinking)
STAFF = web.AppKey("staff", Staff)

UNKNOWN_NUMBER = "Diese Betriebsnummer ist ungültig. Sie besteht aus 1 bis 20 Ziffern."
UNKNOWN_USER = "Dieses Konto ist uns nicht bekannt."
BAD_PAGE = "Die Angaben zum Blättern sind ungültig."

NOT_LOGGED_IN = "Bitte melden Sie sich an, um „Mein Betrieb“ zu nutzen."
SESSION_ENDED = (
    "Ihr Konto wurde inzwischen mit einem Betrieb verknüpft. Aus Sicherheitsgründen wurden Sie "
    "abgemeldet. Bitte melden Sie sich erneut an."
)
LINKED = Accepted(
    status="linked",
    message=(
        "Ihr Konto ist jetzt mit Ihrem Betrieb verknüpft. Aus Sicherheitsgründen wurden Sie abgemeldet. "
        "Bitte melden Sie sich erneut an."
    ),
)


class RequestIn(BaseModel):
    betriebsnummer: str

    @field_validator("betriebsnummer")
    @classmethod
    def _number(cls, value: str) -> str:
        return domain.normalize_betriebsnummer(value)


class LinkIn(RequestIn):
    pin: str

    @field_validator("pin")
    @classmethod
    def _pin(cls, value: str) -> str:
        if len(value) > 64:
            raise domain.Invalid(domain.PIN_FORMAT)
        return domain.normalize_pin(value)


async def session_user(request: web.Request) -> SessionUser:
    """The member, if the session started after their last link. A link is pins' own fact: a
    session older than it is refused here at once, whether or not accounts has heard of the link
    yet (DESIGN.md: no session older than the link ever carries it)."""
    user = SessionUser.parse(current_identity(request).user)
    if user is None:
        raise ApiError(401, "unauthenticated", NOT_LOGGED_IN)
    async with request.app[POOL].acquire() as conn:
        if await repo.linked_since(conn, user.user_id, user.started_at):
            raise ApiError(401, "session_ended", SESSION_ENDED, headers={SESSION_HEADER: SESSION_END})
    return user


def _number(request: web.Request, code: str = "business_not_found", message: str = UNKNOWN_NUMBER) -> str:
    """The Betriebsnummer in the path; an impossible one is answered as an unknown one (404)."""
    try:
        return domain.normalize_betriebsnummer(request.match_info["betriebsnummer"])
    except ValueError:
        raise ApiError(404, code, message) from None


async def request_pin(request: web.Request) -> web.Response:
    user = await session_user(request)
    refuse_staff(user)
    form = await parse_json(request, RequestIn)
    letter = await request.app[LETTERS].request(user.user_id, form.betriebsnummer, current_identity(request).client)
    until = domain.local_date(date.fromisoformat(letter["valid_until"]))
    requested = RequestedOut(
        status="accepted",
        message=(  # no name or address: the business's data stay behind the PIN (letters.py)
            "Ihr PIN-Brief ist unterwegs. Wir schicken ihn per Post an die Anschrift Ihres Betriebs, "
            "die bei uns hinterlegt ist. Bitte rechnen Sie mit einigen Tagen Postlaufzeit. "
            f"Die PIN ist bis zum {until} gültig."
        ),
        request=letter,
    )
    return answer(requested, 202)


async def my_requests(request: web.Request) -> web.Response:
    user = await session_user(request)
    return answer(RequestsOut(requests=await request.app[LETTERS].mine(user.user_id)))


async def export(request: web.Request) -> web.Response:
    user = await session_user(request)
    return answer(await member_data.export(request.app[POOL], user.user_id))


async def link(request: web.Request) -> web.Response:
    user = await session_user(request)
    refuse_staff(user)
    form = await parse_json(request, LinkIn)
    await request.app[LINKS].link(user.user_id, form.betriebsnummer, form.pin, current_identity(request).client)
    response = answer(LINKED)
    response.headers[SESSION_HEADER] = SESSION_END  # the linking session ends with this answer
    return response


async def my_businesses(request: web.Request) -> web.Response:
    user = await session_user(request)
    return answer(BusinessesOut(businesses=await request.app[LINKS].mine(user.user_id)))


async def unlink(request: web.Request) -> web.Response:
    """Verknüpfung lösen: the member's own link ends (pin.unlinked.v1), their access with it."""
    user = await session_user(request)
    await request.app[UNLINKING].by_member(user.user_id, _number(request, "not_linked", unlinking.NOT_LINKED))
    return web.Response(status=204)


async def staff_business(request: web.Request) -> web.Response:
    user = staff_user(request)
    return answer(await request.app[STAFF].business(user.user_id, _number(request)))


async def staff_letter(request: web.Request) -> web.Response:
    user = staff_user(request)
    return answer(await request.app[STAFF].send_letter(user.user_id, _number(request)), 202)


async def staff_unlink(request: web.Request) -> web.Response:
    user = staff_user(request)
    number = _number(request)
    try:
        member = UUID(request.match_info["user_id"])
    except ValueError:
        raise ApiError(404, "member_not_found", UNKNOWN_USER) from None
    await request.app[UNLINKING].by_staff(user.user_id, number, member)
    return web.Response(status=204)


async def staff_audit(request: web.Request) -> web.Response:
    staff_user(request)
    page = parse_query(request, AuditPage, BAD_PAGE)
    return answer(await request.app[STAFF].audit(page.before, page.limit))


API = "/api/v1/pins"
STAFF_API = f"{API}/staff"
ENDPOINTS = (
    Endpoint(
        "POST",
        f"{API}/requests",
        request_pin,
        "PIN anfordern: a PIN letter to the business's address",
        RequestIn,
        RequestedOut,
        202,
        session=True,
    ),
    Endpoint(
        "GET", f"{API}/requests", my_requests, "The PIN letters the member asked for", answer=RequestsOut, session=True
    ),
    Endpoint(
        "POST",
        f"{API}/links",
        link,
        "Freischalten und abmelden: link with Betriebsnummer and PIN; "
        "every session that began before ends, this one with the answer",
        LinkIn,
        Accepted,
        session=True,
    ),
    Endpoint(
        "GET",
        f"{API}/businesses/mine",
        my_businesses,
        "Mein Betrieb: the member area (403 unless linked)",
        answer=BusinessesOut,
        session=True,
    ),
    Endpoint(
        "GET",
        f"{API}/me/export",
        export,
        "Pins' part of 'Meine Daten herunterladen' (the gateway's GET /api/v1/export joins them)",
        answer=member_data.PinsExportOut,
        session=True,
    ),
    Endpoint(
        "DELETE",
        f"{API}/links/{{betriebsnummer}}",
        unlink,
        "Verknüpfung lösen: the member's own link to the business ends, and their access with it",
        status=204,
        session=True,
    ),
    Endpoint(
        "GET",
        f"{STAFF_API}/businesses/{{betriebsnummer}}",
        staff_business,
        "Staff: a business of record with its linked accounts, PIN letters and failed link attempts",
        answer=StaffBusinessOut,
        session=True,
    ),
    Endpoint(
        "POST",
        f"{STAFF_API}/businesses/{{betriebsnummer}}/letters",
        staff_letter,
        "Staff: a new PIN letter to the business's address of record (reason staff_request)",
        answer=StaffLetterSentOut,
        status=202,
        session=True,
    ),
    Endpoint(
        "DELETE",
        f"{STAFF_API}/businesses/{{betriebsnummer}}/links/{{user_id}}",
        staff_unlink,
        "Staff: end an account's link to the business",
        status=204,
        session=True,
    ),
    Endpoint(
        "GET",
        f"{STAFF_API}/audit",
        staff_audit,
        "Staff: pins' audit log, newest first (?before=<id>&limit=<n>, at most 200)",
        answer=audit.AuditOut,
        session=True,
        query=AuditPage,
    ),
)


def add_routes(app: web.Application) -> None:
    add_endpoints(app, ENDPOINTS)
