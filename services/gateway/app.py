"""Composition root of the gateway: no database; NATS only for session.revoke.v1."""

from pathlib import Path

import aiohttp
from aiohttp import web
from faststream.nats import NatsBroker

import contracts
from runtime import bus, identity, service
from runtime.sessions import device_cookie_name
from runtime.web import (
    READINESS,
    access_middleware,
    add_health_routes,
    error_middleware,
    install_request_id_header,
)
from services.gateway import (
    account_pages,
    audit_pages,
    business_pages,
    contact_pages,
    legal_pages,
    member_data,
    pages,
    password_pages,
    proxy,
    revocation,
    staff_login_pages,
    staff_pages,
    upstream,
)
from services.gateway.access import api_gate
from services.gateway.client_address import ClientAddress, parse_networks
from services.gateway.rendering import TEMPLATES, create_environment, page_errors
from services.gateway.replicas import REPLICAS, Replicas
from services.gateway.security import (
    CLIENT_ADDRESS,
    DEVICE_COOKIE,
    SIGNER,
    client_address,
    csrf_middleware,
    from_trusted_proxy,
    install_headers,
)
from services.gateway.session_cache import SessionCache
from services.gateway.sessions import CACHE, install_cookie_clearing, session_middleware
from services.gateway.settings import SETTINGS, Settings
from services.gateway.staff_access import staff_gate

STATIC = Path(__file__).parent / "static"
OPENAPI_PATH = "/api/v1/openapi.json"
# Generated from the services' endpoint lists (python -m deploy.openapi), committed with the contracts.
OPENAPI = Path(contracts.__file__).parent / "schemas" / "openapi.json"


def openapi_handler():
    """The committed document, read once at start."""
    body = OPENAPI.read_bytes()

    async def openapi(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json", charset="utf-8")

    return openapi


def create_app(
    settings: Settings,
    *,
    session: aiohttp.ClientSession | None = None,
    broker: NatsBroker | None = None,
    messaging: bool = True,
    cache: SessionCache | None = None,
) -> web.Application:
    """`session`: a client session the caller owns (tests); otherwise one is made and closed here.
    `messaging=False`: no NATS at all (unit tests); revocations then rely on the cache lifetime.

    Not runtime's create_service_app: its identity middleware checks signatures, and the gateway
    is the one that signs."""
    app = web.Application(
        middlewares=[
            access_middleware(from_trusted_proxy, client_address),
            error_middleware,
            page_errors,
            csrf_middleware(settings.public_url),
            session_middleware(settings),
            api_gate,
            staff_gate,
        ],
        client_max_size=settings.max_body_size,
    )
    app[SETTINGS] = settings
    app[SIGNER] = identity.Signer(settings.identity_private_key.get_secret_value())
    app[REPLICAS] = {name: Replicas(bases) for name, bases in settings.upstreams.items()}
    app[CLIENT_ADDRESS] = ClientAddress(parse_networks(settings.trusted_proxies))
    app[DEVICE_COOKIE] = device_cookie_name(settings.public_url)
    # Ready when the gateway itself is: pages answer "Dienst nicht erreichbar" if a service is
    # down, and without NATS the cache lifetime alone bounds how stale a session can be.
    app[READINESS] = []
    app[TEMPLATES] = create_environment(settings)
    if cache is None:
        cache = SessionCache(settings.session_cache_seconds, max_entries=settings.session_cache_size)
    app[CACHE] = cache
    app.cleanup_ctx.append(upstream.client_session(settings, session))
    if messaging:
        broker = broker or bus.create_broker(settings, "gateway")
        revocation.subscribe(broker, app[CACHE])
        app.cleanup_ctx.append(service.nats(broker, required_for_readiness=False))
    install_headers(app, settings.public_url)
    install_request_id_header(app)
    install_cookie_clearing(app, settings)
    add_health_routes(app)
    app.router.add_static("/static/", STATIC)
    pages.add_routes(app)
    account_pages.add_routes(app)
    password_pages.add_routes(app)
    business_pages.add_routes(app)
    contact_pages.add_routes(app)
    member_data.add_routes(app)  # /api/v1/export before the proxy's /api/v1/{service}/…
    legal_pages.add_routes(app)
    staff_login_pages.add_routes(app)
    audit_pages.add_routes(app)
    staff_pages.add_routes(app)
    app.router.add_get(OPENAPI_PATH, openapi_handler())
    app.router.add_route("*", proxy.ROUTE, proxy.create_handler(settings.max_body_size))
    return app
