"""Composition root of the gateway: no database, no broker yet (session.revoke comes later)."""

from pathlib import Path

import aiohttp
from aiohttp import web

from runtime.web import INTERNAL_SECRET, READINESS, add_health_routes, error_middleware, metrics_middleware
from services.gateway import pages, proxy, upstream
from services.gateway.rendering import TEMPLATES, create_environment, page_errors
from services.gateway.security import csrf_middleware, install_headers
from services.gateway.settings import SETTINGS, Settings

STATIC = Path(__file__).parent / "static"


def create_app(settings: Settings, *, session: aiohttp.ClientSession | None = None) -> web.Application:
    """`session`: a client session the caller owns (tests); otherwise one is made and closed here.

    Not runtime's create_service_app: its identity middleware checks signatures, and the gateway
    is the one that signs."""
    app = web.Application(
        middlewares=[
            metrics_middleware,
            error_middleware,
            page_errors,
            csrf_middleware(settings.public_url),
        ],
        client_max_size=settings.max_body_size,
    )
    app[SETTINGS] = settings
    app[INTERNAL_SECRET] = settings.internal_secret.get_secret_value()
    # Ready when the gateway itself is: pages answer "Dienst nicht erreichbar" if a service is down.
    app[READINESS] = []
    app[TEMPLATES] = create_environment(settings)
    app.cleanup_ctx.append(upstream.client_session(settings, session))
    install_headers(app, settings.public_url)
    add_health_routes(app)
    app.router.add_static("/static/", STATIC)
    pages.add_routes(app)
    app.router.add_route("*", proxy.ROUTE, proxy.create_handler(settings.upstreams, settings.max_body_size))
    return app
