"""What every service's HTTP side shares: middlewares, health, readiness, metrics, identity."""

import asyncio
import functools
import logging
import os
import time
from collections.abc import Awaitable, Callable

import asyncpg
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from runtime import identity, logs, metrics
from runtime.errors import UNAVAILABLE, UNAVAILABLE_CODE, ApiError, error_response

log = logging.getLogger(__name__)
access_log = logging.getLogger("portal.access")

Check = Callable[[], Awaitable[None]]
READINESS = web.AppKey("readiness", list)
VERIFIER = web.AppKey("identity_verifier", identity.Verifier)
IDENTITY = web.RequestKey("identity", identity.Identity)
REQUEST_ID = web.RequestKey("request_id", str)

TrustId = Callable[[web.Request], bool]
ClientOf = Callable[[web.Request], str]


def access_middleware(trust_id: TrustId, client: ClientOf):
    """Outermost: gives the request its id (the caller's X-Request-Id when `trust_id` says the
    caller may name one and it is safe, else a new one), puts it in the log context for
    everything the request does, and when the answer is done writes one access line — method,
    path (never the query: links carry tokens), status, duration, id, client; never cookies or
    bodies — and counts it in the request metrics (one timing for both: every request pays it)."""

    @web.middleware
    async def access(request: web.Request, handler):
        given = logs.safe_request_id(request.headers.get(logs.REQUEST_ID_HEADER)) if trust_id(request) else None
        request_id = request[REQUEST_ID] = given or logs.new_request_id()
        started = time.perf_counter()
        status = 500
        with logs.request_context(request_id):
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as error:
                status = error.status
                raise
            finally:
                elapsed = time.perf_counter() - started
                _observe(request, status, elapsed)
                access_log.info(
                    "request",
                    extra={
                        "method": request.method,
                        "path": request.path,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 1),
                        "client": client(request),
                    },
                )

    return access


def _observe(request: web.Request, status: int, elapsed: float) -> None:
    resource = request.match_info.route.resource
    requests, latency = _series(request.method, resource.canonical if resource else "unmatched", status)
    requests.inc()
    latency.observe(elapsed)


def _labelled(method: str, route: str, status: int) -> tuple:
    return (
        metrics.HTTP_REQUESTS.labels(method, route, str(status)),
        metrics.HTTP_LATENCY.labels(method, route, f"{status // 100}xx"),
    )


# The labelled series by (method, route, status): a lookup by labels costs more than the counting
# (issue 12's profile). Methods are the client's to choose, so only so many are kept.
_series = functools.lru_cache(maxsize=1024)(_labelled)


def install_request_id_header(app: web.Application) -> None:
    """The answer names the request's id, streamed answers too (their headers go out before the
    middleware sees them), so a member's report can be matched with the logs."""

    async def add(request: web.Request, response: web.StreamResponse) -> None:
        request_id = request.get(REQUEST_ID)
        if request_id is not None:
            response.headers[logs.REQUEST_ID_HEADER] = request_id

    app.on_response_prepare.append(add)


def _from_gateway(_: web.Request) -> bool:
    """Internal services hear only the gateway (network policy) and check the id's shape anyway."""
    return True


def _signed_client(request: web.Request) -> str:
    """The client as the gateway determined it, for requests it signed."""
    found = request.get(IDENTITY)
    return found.client if found is not None else (request.remote or "")


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(error.status, error.code, error.message, error.fields, error.headers)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return error_response(
            error.status,
            _HTTP_CODES.get(error.status, ("error", ""))[0],
            _HTTP_CODES.get(error.status, ("", "Die Anfrage ist fehlgeschlagen."))[1],
        )
    except asyncio.CancelledError:
        raise
    except UNAVAILABLE_ERRORS as error:
        log.warning("dependency unavailable", extra={"path": request.path, "error": repr(error)})
        return error_response(503, UNAVAILABLE_CODE, UNAVAILABLE)
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
        return error_response(500, "internal", "Es ist ein Fehler aufgetreten. Bitte versuchen Sie es später erneut.")


# The database or the network away for a moment: the request may be repeated, nothing was stored.
UNAVAILABLE_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InternalClientError,  # a connection the restart broke mid-operation
)

_HTTP_CODES = {
    400: ("bad_request", "Die Anfrage konnte nicht gelesen werden."),
    401: ("unauthenticated", "Bitte melden Sie sich an."),
    403: ("forbidden", "Dafür fehlt Ihnen die Berechtigung."),
    404: ("not_found", "Diese Seite gibt es nicht."),
    405: ("method_not_allowed", "Diese Aktion ist hier nicht möglich."),
    413: ("too_large", "Die Anfrage ist zu groß."),
    429: ("too_many_requests", "Zu viele Versuche. Bitte warten Sie einen Moment."),
}


@web.middleware
async def identity_middleware(request: web.Request, handler):
    """Internal services answer /api only to requests the gateway signed, for this very request."""
    if request.path.startswith(("/api/", "/internal/")):
        body = await request.read() if request.body_exists else b""
        found = request.app[VERIFIER].verify(request.headers, request.method, request.raw_path, body)
        if found is None:
            return error_response(403, "forbidden", "Dafür fehlt Ihnen die Berechtigung.")
        request[IDENTITY] = found
    return await handler(request)


def create_service_app(identity_public_key: str, *, client_max_size: int = 64 * 1024) -> web.Application:
    app = web.Application(
        middlewares=[
            access_middleware(_from_gateway, _signed_client),
            error_middleware,
            identity_middleware,
        ],
        client_max_size=client_max_size,
    )
    install_request_id_header(app)
    app[VERIFIER] = identity.Verifier(identity_public_key)
    app[READINESS] = []
    add_health_routes(app)
    return app


def add_health_routes(app: web.Application) -> None:
    """On the public port; /metrics is not among them (`create_metrics_app`)."""
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)


def create_metrics_app() -> web.Application:
    """/metrics alone, for its own listener (PORTAL_METRICS_HOST:PORTAL_METRICS_PORT)."""
    app = web.Application()
    app.router.add_get("/metrics", _metrics)
    return app


async def _healthz(_: web.Request) -> web.Response:
    # The pid lets a starter tell its own process from another one answering on the port.
    return web.json_response({"status": "ok", "pid": os.getpid()})


def serving(check: Check) -> Check:
    """Mark a readiness check as one this replica cannot answer requests without (its database).
    `GET /readyz` runs every check: the service is wired up completely — database, NATS, its
    streams with their replicas; `GET /readyz?serving` only these: while NATS is away the outbox
    holds what happens, so the replica keeps taking requests (Kubernetes' readiness probe asks
    this, its startup probe the whole)."""
    check.serving = True  # type: ignore[attr-defined]
    return check


async def _readyz(request: web.Request) -> web.Response:
    problems = {}
    checks = request.app.get(READINESS, [])
    if "serving" in request.query:
        checks = [check for check in checks if getattr(check, "serving", False)]
    for check in checks:
        try:
            await asyncio.wait_for(check(), 2)
        except Exception as error:
            problems[getattr(check, "__name__", "check")] = type(error).__name__
    if problems:
        return web.json_response({"status": "unavailable", "failing": problems}, status=503)
    return web.json_response({"status": "ready"})


async def _metrics(_: web.Request) -> web.Response:
    response = web.Response(body=generate_latest())
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    return response


def current_identity(request: web.Request) -> identity.Identity:
    return request[IDENTITY]
