"""The jinja2 environment, `render()`, and German HTML error pages for everything outside /api."""

import asyncio
import logging
from pathlib import Path

import jinja2
from aiohttp import web

from runtime.errors import ApiError
from runtime.german import german_date
from services.gateway.session_cache import SESSION
from services.gateway.settings import Settings

log = logging.getLogger(__name__)

TEMPLATES = web.AppKey("templates", jinja2.Environment)
PORTAL_NAME = "Kundenportal – Handwerkskammer Wiesbaden"

_PAGE_ERRORS = {
    400: ("Anfrage ungültig", "Die Anfrage konnte nicht gelesen werden."),
    403: ("Zugriff verweigert", "Dafür fehlt Ihnen die Berechtigung."),
    404: (
        "Seite nicht gefunden",
        "Diese Seite gibt es nicht. Vielleicht hat sich ein Tippfehler in die Adresse eingeschlichen.",
    ),
    405: ("Aktion nicht möglich", "Diese Aktion ist hier nicht möglich."),
    413: ("Anfrage zu groß", "Die Anfrage ist zu groß."),
}
# `?hinweis=<name>` shows one of these fixed sentences; nothing from the URL is echoed.
NOTICES = {
    "abgemeldet": "Sie wurden abgemeldet.",
    "konto-geloescht": "Ihr Konto und die Angaben zu Ihrer Person wurden gelöscht.",
    "passwort-geaendert": "Ihr Passwort wurde geändert.",
    "pin-angefordert": (
        "Ihr PIN-Brief ist angefordert. Den PIN-Code für die Verknüpfung von "
        "Nutzer-Account und Betrieb erhalten Sie per Post an Ihre Betriebsadresse."
    ),
    "gesendet": "Vielen Dank für Ihre Nachricht. Wir melden uns schnellstmöglich.",
    "verknuepfung-geloest": "Die Verknüpfung Ihres Kontos mit dem Betrieb wurde gelöst.",
}
_FAILED = ("Fehler", "Es ist ein Fehler aufgetreten. Bitte versuchen Sie es später erneut.")


def create_environment(settings: Settings) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals.update(
        portal_name=PORTAL_NAME,
        support_email=settings.support_email,
        support_phone=settings.support_phone,
        dev_inbox=settings.mail_inbox_url if settings.dev_mode else None,
        dev_letters=settings.letters_url if settings.dev_mode else None,
    )
    env.filters["datum"] = datum
    return env


def datum(value: object) -> str:
    """An ISO date or time from a service as TT.MM.JJJJ (a time in Berlin); else unchanged."""
    text = str(value or "")
    try:
        return german_date(text)
    except ValueError:
        return text


def render(request: web.Request, template: str, status: int = 200, **context) -> web.Response:
    context.setdefault("signed_in", SESSION in request)
    # The menu shows staff their area instead of the members' pages.
    context.setdefault("staff_session", SESSION in request and not request[SESSION].user.is_member)
    context.setdefault("notice", NOTICES.get(request.query.get("hinweis", "")))
    html = request.app[TEMPLATES].get_template(template).render(context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def message_page(request: web.Request, status: int, title: str, message: str, **context) -> web.Response:
    context.setdefault("links", [])
    return render(request, "message.html", status, title=title, message=message, **context)


@web.middleware
async def page_errors(request: web.Request, handler):
    """Pages answer errors as HTML; /api errors go on to runtime's JSON error middleware."""
    if request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except ApiError as error:
        return message_page(request, error.status, "Anfrage abgelehnt", error.message)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        title, message = _PAGE_ERRORS.get(error.status, _FAILED)
        return message_page(request, error.status, title, message, links=[("/", "Zur Startseite")])
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("page failed", extra={"path": request.path})
        return message_page(request, 500, *_FAILED)
