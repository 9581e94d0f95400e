"""Mein Betrieb: request a PIN letter, link the account with Betriebsnummer + PIN, and — once
linked — the exclusive member area. Every message shown is pins' own (the same as the API's)."""

import asyncio
import re

from aiohttp import web

from runtime.sessions import SESSION_END, SESSION_REFRESH
from services.gateway import upstream
from services.gateway.access import LOGIN_PAGE, UNAVAILABLE_TITLE, current_session, login_required
from services.gateway.rendering import message_page, render
from services.gateway.session_end import add_cookies, end_session
from services.gateway.sessions import forget_session
from services.gateway.upstream import PINS_API

BUSINESS_PAGE = "/mein-betrieb"
REQUEST_PAGE = "/mein-betrieb/pin-anfordern"
LINK_PAGE = "/mein-betrieb/verknuepfen"
UNLINK_PAGE = "/mein-betrieb/verknuepfung-loesen"
# Checked here as well as by pins: the number becomes part of pins' path.
_BETRIEBSNUMMER = re.compile(r"[0-9]{1,20}")
NOT_LINKED_TITLE = "Verknüpfung lösen"
NOT_LINKED = "Ihr Konto ist mit diesem Betrieb nicht verknüpft."
LINKED = (
    "Ihr Konto ist jetzt mit Ihrem Betrieb verknüpft. Aus Sicherheitsgründen wurden Sie "
    "abgemeldet. Bitte melden Sie sich erneut an."
)


def add_routes(app: web.Application) -> None:
    app.router.add_routes(
        [
            web.get(BUSINESS_PAGE, business),
            web.get(REQUEST_PAGE, request_form),
            web.post(REQUEST_PAGE, request_pin),
            web.get(LINK_PAGE, link_form),
            web.post(LINK_PAGE, link),
            web.get(UNLINK_PAGE, unlink_form),
            web.post(UNLINK_PAGE, unlink),
        ]
    )


def state_label(letter: dict) -> str:
    """Pins names its letters' states and reasons (one owner of the words); the gateway shows them."""
    return str(letter.get("state_label") or letter.get("state", ""))


def reason_label(letter: dict) -> str:
    return str(letter.get("reason_label") or letter.get("reason", ""))


async def _login_again(request: web.Request, *answers: upstream.Answer) -> web.HTTPSeeOther:
    """pins refused the session: it ended meanwhile, or — `end` — it began before the member
    linked a business, and ends now (at accounts and in the browser too)."""
    forget_session(request)
    redirect = web.HTTPSeeOther(LOGIN_PAGE)
    if any(answer.session == SESSION_END for answer in answers):
        add_cookies(redirect, await end_session(request))
    return redirect


def _unavailable(request: web.Request, answer: upstream.Answer) -> web.Response:
    return message_page(
        request,
        503,
        UNAVAILABLE_TITLE,
        answer.message,
        links=[(BUSINESS_PAGE, "Mein Betrieb"), ("/", "Zur Startseite")],
    )


@login_required
async def business(request: web.Request) -> web.Response:
    """Linked: the member area. Otherwise the two choices. Both list the member's own letters."""
    mine, letters = await asyncio.gather(
        upstream.call(request, "GET", "pins", PINS_API + "/businesses/mine"),
        upstream.call(request, "GET", "pins", PINS_API + "/requests"),
    )
    if 401 in (mine.status, letters.status):
        raise await _login_again(request, mine, letters)
    if not (mine.ok or mine.status == 403):
        return _unavailable(request, mine)
    # Without the list of letters the page still shows what it can.
    requests = (letters.body.get("requests") or []) if letters.ok else None
    if mine.ok:
        found = current_session(request)
        return render(
            request,
            "member_area.html",
            businesses=mine.body.get("businesses") or [],
            requests=requests,
            me=str(found.user.user_id) if found else "",
            state_label=state_label,
            reason_label=reason_label,
        )
    return render(request, "business.html", requests=requests, state_label=state_label)


@login_required
async def request_form(request: web.Request) -> web.Response:
    return _request_page(request, 200, betriebsnummer="")


@login_required
async def request_pin(request: web.Request) -> web.Response:
    number = str((await request.post()).get("betriebsnummer", "")).strip()
    answer = await upstream.post_json(request, "pins", PINS_API + "/requests", {"betriebsnummer": number})
    if answer.ok:
        raise web.HTTPSeeOther(f"{BUSINESS_PAGE}?hinweis=pin-angefordert")
    if answer.status == 401:
        raise await _login_again(request, answer)
    if answer.status >= 500:
        return _unavailable(request, answer)
    return _request_page(request, answer.status, betriebsnummer=number, errors=answer.fields, message=answer.message)


@login_required
async def link_form(request: web.Request) -> web.Response:
    return _link_page(request, 200, betriebsnummer="", pin="")


@login_required
async def link(request: web.Request) -> web.Response:
    form = await request.post()
    values = {name: str(form.get(name, "")).strip() for name in ("betriebsnummer", "pin")}
    answer = await upstream.post_json(request, "pins", PINS_API + "/links", values)
    if answer.ok:
        # The linking request's own session ends at once, with the answer.
        cookies = await end_session(request)
        message = str(answer.body.get("message") or LINKED)
        return add_cookies(render(request, "linked.html", message=message), cookies)
    if answer.status == 401:
        raise await _login_again(request, answer)
    if answer.status >= 500:
        return _unavailable(request, answer)
    errors = answer.fields
    # The PIN is typed again only where it was the problem (or the attempt was refused).
    pin = values["pin"] if errors and "pin" not in errors else ""
    return _link_page(
        request, answer.status, betriebsnummer=values["betriebsnummer"], pin=pin, errors=errors, message=answer.message
    )


@login_required
async def unlink_form(request: web.Request) -> web.Response:
    """The confirmation step, naming the business: only for a business the member is linked to."""
    number = request.query.get("betriebsnummer", "").strip()
    mine = await upstream.call(request, "GET", "pins", PINS_API + "/businesses/mine")
    if mine.status == 401:
        raise await _login_again(request, mine)
    if mine.status >= 500:
        return _unavailable(request, mine)
    found = [b for b in (mine.body.get("businesses") or []) if mine.ok and b.get("betriebsnummer") == number]
    if not found:
        return _not_linked(request, NOT_LINKED)
    return render(request, "unlink.html", betriebsnummer=number, name=str(found[0].get("name", "")))


@login_required
async def unlink(request: web.Request) -> web.Response:
    number = str((await request.post()).get("betriebsnummer", "")).strip()
    if not _BETRIEBSNUMMER.fullmatch(number):
        return _not_linked(request, NOT_LINKED)
    answer = await upstream.call(request, "DELETE", "pins", f"{PINS_API}/links/{number}")
    if answer.status == 401 or answer.session == SESSION_END:
        raise await _login_again(request, answer)
    if answer.session == SESSION_REFRESH:
        forget_session(request)
    if answer.ok:
        raise web.HTTPSeeOther(f"{BUSINESS_PAGE}?hinweis=verknuepfung-geloest")
    if answer.status >= 500:
        return _unavailable(request, answer)
    return _not_linked(request, answer.message, answer.status)


def _not_linked(request: web.Request, message: str, status: int = 404) -> web.Response:
    return message_page(request, status, NOT_LINKED_TITLE, message, links=[(BUSINESS_PAGE, "Zurück zu „Mein Betrieb“")])


def _request_page(request: web.Request, status: int, **context) -> web.Response:
    context.setdefault("errors", {})
    context.setdefault("message", None)
    return render(request, "pin_request.html", status, **context)


def _link_page(request: web.Request, status: int, **context) -> web.Response:
    context.setdefault("errors", {})
    context.setdefault("message", None)
    return render(request, "link.html", status, **context)
