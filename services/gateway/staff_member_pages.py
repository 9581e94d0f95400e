"""A member in the staff area, found by e-mail (posted: never in a URL) and then shown at their
id: the account from accounts, the mails from notifications, and the actions on the account —
each a POST form that calls accounts' staff API and comes back (PRG) with a fixed German result.
Accounts writes the audit line and tells the member by mail, in the action's own transaction."""

from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from services.gateway import upstream
from services.gateway.staff_access import staff_required
from services.gateway.staff_area import (
    HOME,
    MEMBER_PAGE,
    NOT_FOUND_STATUSES,
    cannot_go_on,
    not_found,
    page,
    refused,
    search_page,
    user_id_of,
)
from services.gateway.upstream import ACCOUNTS_API

MEMBERS_API = ACCOUNTS_API + "/staff/members"
MAILS_API = "/api/v1/notifications/staff/mails"
EMAIL_MISSING = "Bitte geben Sie die E-Mail-Adresse des Mitglieds ein."


@dataclass(frozen=True)
class MemberAction:
    method: str
    suffix: str  # after …/staff/members/{user_id}
    done: str


# `/intern/mitglieder/{user_id}/{name}` → the accounts call and the sentence shown afterwards.
ACTIONS = {
    "bestaetigung": MemberAction("POST", "/confirmation", "Eine neue Bestätigungs-E-Mail wird gesendet."),
    "erstpasswort": MemberAction(
        "POST",
        "/initial-password",
        "Ein neues Erstpasswort wird per E-Mail gesendet. Alle Sitzungen des Mitglieds wurden beendet.",
    ),
    "anmeldesperre": MemberAction(
        "DELETE", "/throttle", "Die Anmeldesperre ist aufgehoben. Das Mitglied wird per E-Mail informiert."
    ),
    "deaktivieren": MemberAction(
        "POST",
        "/deactivation",
        "Das Konto ist deaktiviert, alle Sitzungen wurden beendet. Das Mitglied wird per E-Mail informiert.",
    ),
    "reaktivieren": MemberAction(
        "DELETE", "/deactivation", "Das Konto ist wieder aktiv. Das Mitglied wird per E-Mail informiert."
    ),
}
RESULTS = {name: action.done for name, action in ACTIONS.items()}


def member_url(user_id: str, result: str = "") -> str:
    """A member's page: by id, so no address stands in a URL (a proxy's log, the browser's history)."""
    return f"{MEMBER_PAGE}/{user_id}" + (f"?{urlencode({'ergebnis': result})}" if result else "")


@staff_required
async def search(request: web.Request) -> web.Response:
    """The search form posts the address (never in the URL) and gets the member's page."""
    email = str((await request.post()).get("email", "")).strip()
    if not email:
        return search_page(request, 422, errors={"email": EMAIL_MISSING})
    found = await upstream.call(request, "GET", "accounts", MEMBERS_API + "?" + urlencode({"email": email}))
    return await _member_page(request, found, typed=email)


@staff_required
async def old_search(request: web.Request) -> web.Response:
    """A bookmark of the search's old address (`?email=`): to the search, the address unread."""
    raise web.HTTPSeeOther(HOME)


@staff_required
async def member(request: web.Request) -> web.Response:
    return await _member_page(request, await _by_id(request, user_id_of(request)))


async def _by_id(request: web.Request, user_id: str) -> upstream.Answer:
    return await upstream.call(request, "GET", "accounts", f"{MEMBERS_API}/{user_id}")


def _not_shown(request: web.Request, found: upstream.Answer, typed: str | None) -> web.Response | None:
    """What a page about a member shows instead when accounts found none (`typed`: the address
    searched for, shown again at its field; None: a member's page by id, gone meanwhile) or
    refused; None when `found` is the member."""
    if found.status in NOT_FOUND_STATUSES:
        if typed is None:
            return search_page(request, found.status, error=found.message)
        return not_found(request, found, "email", typed)
    return None if found.ok else refused(request, found)


async def _member_page(
    request: web.Request, found: upstream.Answer, status: int = 200, error: str | None = None, typed: str | None = None
) -> web.Response:
    """`found`: accounts' answer for the member; `error`: why the action just posted was refused
    (409: not in that state), shown above the member as they are now; `typed`: see _not_shown."""
    instead = _not_shown(request, found, typed)
    if instead is not None:
        return instead
    email = found.body.get("email", "")
    mails = await upstream.call(request, "GET", "notifications", MAILS_API + "?" + urlencode({"email": email}))
    # Without the mail log the page still shows the account.
    listed = (mails.body.get("mails") or []) if mails.ok else None
    return page(request, "intern_member.html", status, results=RESULTS, member=found.body, mails=listed, error=error)


async def _after(request: web.Request, answer: upstream.Answer, user_id: str, done: str) -> web.Response:
    if answer.ok:
        raise web.HTTPSeeOther(done)
    if cannot_go_on(answer):
        return refused(request, answer)
    if answer.code == "member_not_found":
        return search_page(request, answer.status, error=answer.message)
    return await _member_page(request, await _by_id(request, user_id), answer.status, answer.message)


@staff_required
async def act(request: web.Request) -> web.Response:
    name = request.match_info["action"]
    action = ACTIONS.get(name)
    if action is None:
        raise web.HTTPNotFound
    user_id = user_id_of(request)
    answer = await upstream.call(request, action.method, "accounts", f"{MEMBERS_API}/{user_id}{action.suffix}")
    return await _after(request, answer, user_id, member_url(user_id, name))


@staff_required
async def erase_form(request: web.Request) -> web.Response:
    """The step before erasing: whose account, and what erasing means."""
    found = await _by_id(request, user_id_of(request))
    return _not_shown(request, found, None) or page(request, "intern_member_erase.html", member=found.body)


@staff_required
async def erase(request: web.Request) -> web.Response:
    user_id = user_id_of(request)
    answer = await upstream.call(request, "DELETE", "accounts", f"{MEMBERS_API}/{user_id}")
    return await _after(request, answer, user_id, HOME + "?ergebnis=konto-geloescht")


ROUTES = [
    web.post(MEMBER_PAGE, search),
    web.get(MEMBER_PAGE, old_search),
    web.get(MEMBER_PAGE + "/{user_id}", member),
    web.get(MEMBER_PAGE + "/{user_id}/konto-loeschen", erase_form),
    web.post(MEMBER_PAGE + "/{user_id}/konto-loeschen", erase),
    web.post(MEMBER_PAGE + "/{user_id}/{action}", act),
]
