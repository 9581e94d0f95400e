"""The session cookie, resolved once per request: from the cache, else from accounts.

A request without the cookie costs one header lookup. What the middleware found goes on the
request: `SESSION` (a Resolved, or absent), `UNAVAILABLE` (accounts could not say), `STALE`
(accounts does not know the cookie: the answer clears it)."""

import logging
from uuid import UUID

import aiohttp
from aiohttp import web

from runtime.errors import dumps
from runtime.sessions import MEMBER, RESOLVE_PATH, ROLES, SessionUser, cookie_name
from services.gateway.replicas import REPLICAS, exchange
from services.gateway.security import identity_headers
from services.gateway.session_cache import SESSION, Resolved, SessionCache, cache_key
from services.gateway.settings import Settings
from services.gateway.upstream import UPSTREAM

log = logging.getLogger(__name__)

CACHE = web.AppKey("session_cache", SessionCache)
KEY = web.RequestKey("session_key", bytes)
UNAVAILABLE = web.RequestKey("session_unavailable", bool)
STALE = web.RequestKey("session_stale", bool)
# Answered without looking at the session: the browser sends the cookie along with these too.
UNRESOLVED_PREFIXES = ("/static/", "/healthz", "/readyz", "/metrics")


class _Unavailable(Exception):
    pass


def session_middleware(settings: Settings):
    cookie = cookie_name(settings.public_url)

    @web.middleware
    async def sessions(request: web.Request, handler):
        if "Cookie" not in request.headers or request.path.startswith(UNRESOLVED_PREFIXES):
            return await handler(request)
        token = request.cookies.get(cookie)
        if not token:
            return await handler(request)
        cache = request.app[CACHE]
        key = request[KEY] = cache_key(token)
        found = cache.get(key)
        if found is None:
            try:
                found = await _resolve(request, token)
            except _Unavailable:
                request[UNAVAILABLE] = True
                return await handler(request)
            if found is None:
                request[STALE] = True
                return await handler(request)
            cache.put(key, found)
        request[SESSION] = found
        return await handler(request)

    return sessions


async def _resolve(request: web.Request, token: str) -> Resolved | None:
    body = dumps({"token": token}).encode()
    headers = identity_headers(request, "POST", RESOLVE_PATH, body, anonymous=True)
    headers["Content-Type"] = "application/json"
    replicas = request.app[REPLICAS]["accounts"]
    try:
        # Resolving twice is harmless: a replica that broke off is skipped like one that refused.
        async with exchange(
            request.app[UPSTREAM], replicas, "POST", RESOLVE_PATH, repeatable=True, data=body, headers=headers
        ) as resp:
            if resp.status == 404:
                return None
            if resp.status != 200:
                log.warning("session resolve refused", extra={"status": resp.status})
                raise _Unavailable
            body = await resp.json()
        role = body.get("role", MEMBER)
        if role not in ROLES:
            raise ValueError(role)
        user = SessionUser(UUID(body["user_id"]), UUID(body["session_id"]), int(body["started_at_ms"]), role)
        return Resolved(user, bool(body["must_change_password"]))
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError, AttributeError) as error:
        log.warning("session resolve failed", extra={"error": type(error).__name__})
        raise _Unavailable from None


def forget_session(request: web.Request) -> None:
    """The request's own session changed (logout, new password): resolve it afresh next time."""
    key = request.get(KEY)
    if key is not None:
        request.app[CACHE].drop(key)


def install_cookie_clearing(app: web.Application, settings: Settings) -> None:
    cookie = cookie_name(settings.public_url)
    prefix = cookie + "="

    async def clear_stale(request: web.Request, response: web.StreamResponse) -> None:
        if request.get(STALE) and not any(
            value.startswith(prefix) for value in response.headers.getall("Set-Cookie", ())
        ):
            clear_cookie(response, settings)

    app.on_response_prepare.append(clear_stale)


def clear_cookie(response: web.StreamResponse, settings: Settings) -> None:
    """As a header, not `del_cookie`: the prepare signal runs after aiohttp wrote its cookies."""
    response.headers.add("Set-Cookie", clearing_cookie(settings))


def clearing_cookie(settings: Settings) -> str:
    secure = "; Secure" if settings.secure_cookies else ""
    return (
        f"{cookie_name(settings.public_url)}=; Max-Age=0; "
        f"Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; SameSite=Lax{secure}"
    )
