"""The staff sign-in's second step, /intern/anmeldung: set up the authenticator app (QR code and the
secret to type in, then the recovery codes, shown once), or enter a code from it. Accounts keeps the
secret and marks the session verified; its answer's `X-Portal-Session: refresh` makes this gateway
resolve the session afresh, so the next page sees the role `staff`."""

import segno
from aiohttp import web
from markupsafe import Markup

from runtime.sessions import SESSION_REFRESH
from services.gateway import upstream
from services.gateway.access import LOGIN_PAGE, UNAVAILABLE_TITLE, current_session
from services.gateway.rendering import message_page, render
from services.gateway.sessions import forget_session
from services.gateway.staff_access import SECOND_FACTOR_API, SECOND_FACTOR_PAGE, STAFF_HOME, second_factor_session

SETUP_PAGE = SECOND_FACTOR_PAGE + "/einrichten"
QR_LABEL = "QR-Code für Ihre Authenticator-App"
CODE_MISSING = "Bitte geben Sie den sechsstelligen Code aus Ihrer Authenticator-App ein."


def add_routes(app: web.Application) -> None:
    app.router.add_routes(
        [
            web.get(SECOND_FACTOR_PAGE, second_factor),
            web.post(SECOND_FACTOR_PAGE, verify),
            web.post(SETUP_PAGE, confirm_setup),
        ]
    )


def qr_svg(uri: str) -> Markup:
    """The otpauth URI as an inline SVG (no script, no style attribute: the CSP allows it), named
    for screen readers; the secret is shown as text beside it for typing in."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, border=4, light="#fff", svgclass="qr", title=QR_LABEL)
    return Markup(svg.replace("<svg ", f'<svg role="img" aria-label="{QR_LABEL}" ', 1))


def grouped(secret: str) -> str:
    """ABCD EFGH …: easier to read and type than 32 letters in a row."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def typed_code(value: str) -> str:
    # Apps show "123 456"; recovery codes may be copied with spaces around them.
    return "".join(value.split())


@second_factor_session
async def second_factor(request: web.Request) -> web.Response:
    """Enrolled: a code field. Not yet: a new pending secret from accounts, as QR code and text."""
    found = current_session(request)
    if found is not None and found.user.is_staff:
        raise web.HTTPSeeOther(STAFF_HOME)
    state = await upstream.call(request, "GET", "accounts", SECOND_FACTOR_API)
    if state.status == 401:
        forget_session(request)
        raise web.HTTPSeeOther(LOGIN_PAGE)
    if not state.ok:
        return _unavailable(request, state)
    if state.body.get("enrolled"):
        return _code_page(request, 200)
    return await _setup_page(request, 200)


@second_factor_session
async def confirm_setup(request: web.Request) -> web.Response:
    form = await request.post()
    code = typed_code(str(form.get("code", "")))
    if not code:
        return await _setup_page(request, 422, errors={"code": CODE_MISSING})
    answer = await upstream.post_json(request, "accounts", SECOND_FACTOR_API + "/setup/confirm", {"code": code})
    _refresh(request, answer)
    if answer.ok:
        return render(request, "intern_signin_codes.html", codes=answer.body.get("recovery_codes") or [])
    if answer.status == 401:
        raise web.HTTPSeeOther(LOGIN_PAGE)
    if answer.status == 409:  # enrolled meanwhile (another tab): enter a code instead
        raise web.HTTPSeeOther(SECOND_FACTOR_PAGE)
    if answer.status >= 500:
        return _unavailable(request, answer)
    return await _setup_page(request, answer.status, errors=_code_errors(answer), message=answer.message)


@second_factor_session
async def verify(request: web.Request) -> web.Response:
    code = typed_code(str((await request.post()).get("code", "")))
    if not code:
        return _code_page(request, 422, errors={"code": CODE_MISSING})
    answer = await upstream.post_json(request, "accounts", SECOND_FACTOR_API, {"code": code})
    _refresh(request, answer)
    if answer.ok:
        raise web.HTTPSeeOther(STAFF_HOME)
    if answer.status == 401:
        raise web.HTTPSeeOther(LOGIN_PAGE)
    if answer.status >= 500:
        return _unavailable(request, answer)
    return _code_page(request, answer.status, errors=_code_errors(answer), message=answer.message)


def _refresh(request: web.Request, answer: upstream.Answer) -> None:
    if answer.session == SESSION_REFRESH or answer.ok or answer.status == 401:
        forget_session(request)


def _code_errors(answer: upstream.Answer) -> dict[str, str]:
    """Accounts' message next to the field; a refusal without fields (429) goes there too."""
    return answer.fields or {"code": answer.message}


async def _setup_page(request: web.Request, status: int, **context) -> web.Response:
    """The pending secret as accounts holds it: the same on every reload and after a wrong code,
    so an app that scanned it already keeps working."""
    setup = await upstream.call(request, "POST", "accounts", SECOND_FACTOR_API + "/setup")
    if not setup.ok:
        return _unavailable(request, setup)
    secret, uri = str(setup.body.get("secret", "")), str(setup.body.get("otpauth_uri", ""))
    context.setdefault("errors", {})
    context.setdefault("message", None)
    return render(
        request,
        "intern_signin_setup.html",
        status,
        secret=secret,
        secret_grouped=grouped(secret),
        otpauth_uri=uri,
        qr=qr_svg(uri) if uri.startswith("otpauth://") else "",
        **context,
    )


def _code_page(request: web.Request, status: int, **context) -> web.Response:
    context.setdefault("errors", {})
    context.setdefault("message", None)
    return render(request, "intern_signin_code.html", status, **context)


def _unavailable(request: web.Request, answer: upstream.Answer) -> web.Response:
    return message_page(
        request, answer.status if answer.status >= 400 else 503, UNAVAILABLE_TITLE, answer.message, links=[]
    )
