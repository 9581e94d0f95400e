"""The one pooled client session to the services, shared by the proxy and the pages."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from runtime.errors import UNAVAILABLE, UNAVAILABLE_CODE
from runtime.sessions import SESSION_HEADER
from services.gateway.hop import Hop
from services.gateway.replicas import REPLICAS, exchange
from services.gateway.security import identity_headers
from services.gateway.settings import Settings

# The hop to the services (services/gateway/hop.py); tests may pass an aiohttp session instead.
UPSTREAM = web.AppKey("upstream", Hop | aiohttp.ClientSession)
ACCOUNTS_API, PINS_API = "/api/v1/accounts", "/api/v1/pins"

FAILED = "Die Anfrage ist fehlgeschlagen. Bitte versuchen Sie es erneut."


def new_session(settings: Settings) -> Hop:
    """No cookie ever rides along: the hop keeps none (it is shared by every visitor)."""
    return Hop(limit_per_host=settings.upstream_connections, timeout=settings.upstream_timeout, connect_timeout=2.0)


def client_session(settings: Settings, session: aiohttp.ClientSession | None = None):
    """Cleanup context: a session passed in (tests) is the caller's to close."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        app[UPSTREAM] = session or new_session(settings)
        yield
        if session is None:
            await app[UPSTREAM].close()

    return context


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any] = field(default_factory=dict)
    cookies: tuple[str, ...] = ()  # the service's Set-Cookie headers, for the browser
    session: str = ""  # what the service says becomes of the session (runtime.sessions.SESSION_HEADER)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error(self) -> dict[str, Any]:
        error = self.body.get("error")
        return error if isinstance(error, dict) else {}

    @property
    def code(self) -> str:
        return str(self.error.get("code", ""))

    @property
    def message(self) -> str:
        return str(self.error.get("message") or (UNAVAILABLE if self.status >= 500 else FAILED))

    @property
    def fields(self) -> dict[str, str]:
        fields = self.error.get("fields")
        return {str(k): str(v) for k, v in fields.items()} if isinstance(fields, dict) else {}


async def post_json(request: web.Request, service: str, path: str, payload: dict[str, Any]) -> Answer:
    return await call(request, "POST", service, path, payload)


async def call(
    request: web.Request, method: str, service: str, path: str, payload: dict[str, Any] | None = None
) -> Answer:
    """`path` on one of `service`'s replicas, with the signed identity; an unreachable, failing or
    slow service is a 503 Answer."""
    body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
    headers = identity_headers(request, method, path, body)
    if payload is not None:
        headers["Content-Type"] = "application/json"
    replicas = request.app[REPLICAS][service]
    try:
        async with exchange(request.app[UPSTREAM], replicas, method, path, data=body or None, headers=headers) as resp:
            if resp.status >= 500:
                return Answer(503, _unavailable())
            cookies = tuple(resp.headers.getall("Set-Cookie", ()))
            session = resp.headers.get(SESSION_HEADER, "")
            if resp.content_type != "application/json":
                return Answer(resp.status, cookies=cookies, session=session)
            body = await resp.json()
            return Answer(resp.status, body if isinstance(body, dict) else {}, cookies, session)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return Answer(503, _unavailable())


def _unavailable() -> dict[str, Any]:
    return {"error": {"code": UNAVAILABLE_CODE, "message": UNAVAILABLE, "fields": {}}}
