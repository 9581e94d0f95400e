"""A business in the staff area, found by Betriebsnummer: pins' record of it, the linked accounts,
every PIN letter and the failed link attempts; and the two actions — a new PIN letter and ending a
link — each after a step that names what it concerns, then a POST to pins' staff API and back
(PRG). Pins writes the audit line in the action's own transaction."""

from urllib.parse import quote, urlencode

from aiohttp import web

from services.gateway import upstream
from services.gateway.staff_access import staff_required
from services.gateway.staff_area import (
    BUSINESS_PAGE,
    NOT_FOUND_STATUSES,
    cannot_go_on,
    not_found,
    page,
    refused,
    search_page,
    user_id_of,
)
from services.gateway.upstream import PINS_API

BUSINESSES_API = PINS_API + "/staff/businesses"
NUMBER_MISSING = "Bitte geben Sie die Betriebsnummer ein."
NOT_LINKED = "Dieses Konto ist nicht mit dem Betrieb verknüpft."
RESULTS = {
    "pin-brief": "Ein neuer PIN-Brief ist angefordert. Er geht per Post an die Anschrift des Betriebs.",
    "verknuepfung-beendet": "Die Verknüpfung ist beendet. Das Konto hat keinen Zugang mehr zu diesem Betrieb.",
}


def business_url(number: str, result: str = "") -> str:
    return BUSINESS_PAGE + "?" + urlencode({"betriebsnummer": number} | ({"ergebnis": result} if result else {}))


def _api(number: str, tail: str = "") -> str:
    return f"{BUSINESSES_API}/{quote(number, safe='')}{tail}"


def _number(request: web.Request) -> str:
    return request.match_info["number"].strip()


@staff_required
async def business(request: web.Request) -> web.Response:
    number = request.query.get("betriebsnummer", "").strip()
    if not number:
        return search_page(request, 422, errors={"betriebsnummer": NUMBER_MISSING})
    return await _business_page(request, number)


async def _business_page(request: web.Request, number: str, status: int = 200, error: str | None = None):
    """`error`: why the action just posted was refused, shown above the business as it is now."""
    found = await upstream.call(request, "GET", "pins", _api(number))
    if found.status in NOT_FOUND_STATUSES:
        return not_found(request, found, "betriebsnummer", number)
    if not found.ok:
        return refused(request, found)
    return page(request, "intern_business.html", status, results=RESULTS, business=found.body, error=error)


async def _after(request: web.Request, answer: upstream.Answer, number: str, result: str) -> web.Response:
    if answer.ok:
        raise web.HTTPSeeOther(business_url(number, result))
    if cannot_go_on(answer):
        return refused(request, answer)
    return await _business_page(request, number, answer.status, answer.message)


async def _confirmation(request: web.Request, template: str, user_id: str | None = None) -> web.Response:
    """The step before a letter or an unlinking: names the address, or the account, it concerns."""
    number = _number(request)
    found = await upstream.call(request, "GET", "pins", _api(number))
    if found.status in NOT_FOUND_STATUSES:
        return not_found(request, found, "betriebsnummer", number)
    if not found.ok:
        return refused(request, found)
    if user_id is None:
        return page(request, template, business=found.body)
    accounts = [a for a in found.body.get("linked_accounts") or [] if str(a.get("user_id")) == user_id]
    if not accounts:
        return page(request, "intern_business.html", 404, business=found.body, error=NOT_LINKED)
    return page(request, template, business=found.body, account=accounts[0])


@staff_required
async def letter_form(request: web.Request) -> web.Response:
    return await _confirmation(request, "intern_business_letter.html")


@staff_required
async def send_letter(request: web.Request) -> web.Response:
    number = _number(request)
    answer = await upstream.call(request, "POST", "pins", _api(number, "/letters"))
    return await _after(request, answer, number, "pin-brief")


@staff_required
async def unlink_form(request: web.Request) -> web.Response:
    return await _confirmation(request, "intern_business_unlink.html", user_id_of(request))


@staff_required
async def unlink(request: web.Request) -> web.Response:
    number, user_id = _number(request), user_id_of(request)
    answer = await upstream.call(request, "DELETE", "pins", _api(number, f"/links/{user_id}"))
    return await _after(request, answer, number, "verknuepfung-beendet")


ROUTES = [
    web.get(BUSINESS_PAGE, business),
    web.get(BUSINESS_PAGE + "/{number}/pin-brief", letter_form),
    web.post(BUSINESS_PAGE + "/{number}/pin-brief", send_letter),
    web.get(BUSINESS_PAGE + "/{number}/verknuepfungen/{user_id}", unlink_form),
    web.post(BUSINESS_PAGE + "/{number}/verknuepfungen/{user_id}", unlink),
]
