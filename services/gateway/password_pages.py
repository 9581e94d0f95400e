"""Forgotten password: ask for a reset link, then set a new password with its token.
The link's GET only shows a form (mail scanners fetch links); the POST does the work."""

from aiohttp import web

from services.gateway import upstream
from services.gateway.account_pages import MISMATCH
from services.gateway.rendering import message_page, render
from services.gateway.upstream import ACCOUNTS_API

FORGOT_PAGE = "/passwort-vergessen"
RESET_PAGE = "/passwort-zuruecksetzen"
RESET_TITLE = "Neues Passwort vergeben"
TOKEN_MISSING = (
    "Der Link ist unvollständig. Bitte öffnen Sie den Link aus Ihrer E-Mail erneut "
    "oder kopieren Sie ihn vollständig in die Adresszeile."
)
SENT_FALLBACK = (
    "Wenn ein Konto mit dieser E-Mail-Adresse besteht, erhalten Sie in Kürze eine "
    "E-Mail mit einem Link zum Zurücksetzen Ihres Passworts."
)


def add_routes(app: web.Application) -> None:
    app.router.add_routes(
        [
            web.get(FORGOT_PAGE, forgot_form),
            web.post(FORGOT_PAGE, forgot),
            web.get(RESET_PAGE, reset_form),
            web.post(RESET_PAGE, reset),
        ]
    )


async def forgot_form(request: web.Request) -> web.Response:
    return render(request, "password_forgot.html", email="", sent=None, errors={}, message=None)


async def forgot(request: web.Request) -> web.Response:
    email = str((await request.post()).get("email", "")).strip()
    answer = await upstream.post_json(request, "accounts", ACCOUNTS_API + "/password/forgot", {"email": email})
    if answer.ok:
        sent = str(answer.body.get("message") or SENT_FALLBACK)
        return render(request, "password_forgot.html", email=email, sent=sent, errors={}, message=None)
    return render(
        request,
        "password_forgot.html",
        answer.status,
        email=email,
        sent=None,
        errors=answer.fields,
        message=answer.message,
    )


async def reset_form(request: web.Request) -> web.Response:
    token = request.query.get("token", "").strip()
    if not token:
        return message_page(request, 400, RESET_TITLE, TOKEN_MISSING, links=_forgot_link())
    return _reset_page(request, 200, token=token)


async def reset(request: web.Request) -> web.Response:
    form = await request.post()
    token = str(form.get("token", "")).strip()
    new_password = str(form.get("new_password", ""))
    if not token:
        return message_page(request, 400, RESET_TITLE, TOKEN_MISSING, links=_forgot_link())
    if new_password != str(form.get("new_password_repeat", "")):
        return _reset_page(request, 422, token=token, errors={"new_password_repeat": MISMATCH})
    answer = await upstream.post_json(
        request, "accounts", ACCOUNTS_API + "/password/reset", {"token": token, "new_password": new_password}
    )
    if answer.ok:
        return _reset_page(request, 200, token="", done=True)
    if answer.status in (400, 409, 410):
        links = _forgot_link() if answer.code == "token_expired" else [("/login", "Login")]
        return message_page(request, answer.status, RESET_TITLE, answer.message, links=links)
    return _reset_page(request, answer.status, token=token, errors=answer.fields, message=answer.message)


def _reset_page(request: web.Request, status: int, **context) -> web.Response:
    context.setdefault("errors", {})
    context.setdefault("message", None)
    context.setdefault("done", False)
    return render(request, "password_reset.html", status, **context)


def _forgot_link() -> list[tuple[str, str]]:
    return [(FORGOT_PAGE, "Passwort vergessen")]
