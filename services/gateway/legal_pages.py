"""Impressum, Datenschutzerklärung and Erklärung zur Barrierefreiheit, linked from every footer."""

import logging

from aiohttp import web

from services.gateway import retention
from services.gateway.legal import legal_texts, missing
from services.gateway.rendering import render
from services.gateway.settings import SETTINGS, Settings

log = logging.getLogger(__name__)

IMPRESSUM, PRIVACY, ACCESSIBILITY = "/impressum", "/datenschutz", "/barrierefreiheit"


def add_routes(app: web.Application) -> None:
    settings = app[SETTINGS]
    if not settings.dev_mode and (unset := missing(settings)):
        # Placeholders are fine locally; in production they would be a defective Impressum.
        log.warning("legal pages show placeholders", extra={"unset": unset})
    app.router.add_routes(
        [
            web.get(IMPRESSUM, impressum),
            web.get(PRIVACY, privacy),
            web.get(ACCESSIBILITY, accessibility),
        ]
    )


def _legal(request: web.Request, template: str, **context) -> web.Response:
    settings: Settings = request.app[SETTINGS]
    return render(request, template, legal=legal_texts(settings), **context)


async def impressum(request: web.Request) -> web.Response:
    return _legal(request, "impressum.html")


async def privacy(request: web.Request) -> web.Response:
    log_days = legal_texts(request.app[SETTINGS])["log_days"]
    return _legal(request, "datenschutz.html", retention=retention.rows(log_days.lines[0]), log_days=log_days)


async def accessibility(request: web.Request) -> web.Response:
    return _legal(request, "barrierefreiheit.html")
