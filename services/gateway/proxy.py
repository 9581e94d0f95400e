"""`/api/v1/<service>/…` forwarded to the service over the pooled session.

Headers go through allow-lists, so inbound identity and hop-by-hop headers never pass; the
signed identity is added fresh. A request body is read whole (bounded by `max_body_size`), since
the signature covers its digest; answers are streamed."""

import logging

import aiohttp
from aiohttp import web

from runtime.errors import UNAVAILABLE, UNAVAILABLE_CODE, ApiError
from runtime.sessions import SESSION_END, SESSION_HEADER, SESSION_REFRESH
from services.gateway.replicas import REPLICAS, exchange
from services.gateway.security import identity_headers
from services.gateway.session_end import end_session_with
from services.gateway.sessions import forget_session
from services.gateway.upstream import UPSTREAM

log = logging.getLogger(__name__)

ROUTE = "/api/v1/{service}/{tail:.*}"
REQUEST_HEADERS = (
    "Accept",
    "Accept-Language",
    "Content-Type",
    "User-Agent",
    "If-None-Match",
    "If-Modified-Since",
)  # X-Request-Id: the gateway's own (identity_headers), never the browser's
RESPONSE_HEADERS = (
    "Content-Type",
    "Location",
    "Content-Disposition",
    "Content-Language",
    "ETag",
    "Last-Modified",
    "Retry-After",
    "WWW-Authenticate",
    "X-Request-Id",
)
# Answers up to this size are read whole: one write back instead of a chunked stream.
BUFFER_LIMIT = 256 * 1024
NOT_FOUND = "Diese Schnittstelle gibt es nicht."
TOO_LARGE = "Die Anfrage ist zu groß."


def create_handler(max_body_size: int):
    async def proxy(request: web.Request) -> web.StreamResponse:
        replicas = request.app[REPLICAS].get(request.match_info["service"])
        if replicas is None or _escapes(request.raw_path):
            raise ApiError(404, "not_found", NOT_FOUND)
        length = request.content_length
        if length is not None and length > max_body_size:
            raise ApiError(413, "too_large", TOO_LARGE)
        headers = {name: value for name in REQUEST_HEADERS if (value := request.headers.get(name))}
        data = b""
        if request.body_exists:  # bounded by the app's client_max_size
            try:
                data = await request.read()
            except web.HTTPRequestEntityTooLarge:
                raise ApiError(413, "too_large", TOO_LARGE) from None
        headers.update(identity_headers(request, request.method, request.raw_path, data))
        try:
            async with exchange(
                request.app[UPSTREAM],
                replicas,
                request.method,
                request.raw_path,
                headers=headers,
                data=data or None,
                allow_redirects=False,
            ) as upstream:
                # The service says what becomes of the request's session (runtime/sessions.py).
                action = upstream.headers.get(SESSION_HEADER)
                if action == SESSION_REFRESH:
                    forget_session(request)
                if action != SESSION_END:
                    return await _answer(request, upstream)
                response = await _buffered(upstream)
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning(
                "upstream failed", extra={"upstream": request.match_info["service"], "error": type(error).__name__}
            )
            raise ApiError(503, UNAVAILABLE_CODE, UNAVAILABLE) from None
        # After the service's connection went back to the pool: ends it at accounts too.
        await end_session_with(request, response)
        return response

    return proxy


async def _buffered(upstream: aiohttp.ClientResponse) -> web.Response:
    body = await upstream.read()
    return web.Response(status=upstream.status, reason=upstream.reason, body=body, headers=_response_headers(upstream))


async def _answer(request: web.Request, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
    length = upstream.content_length
    if (length is not None and length <= BUFFER_LIMIT) or upstream.status in (204, 304):
        return await _buffered(upstream)
    headers = _response_headers(upstream)
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers=headers)
    if length is not None:
        response.content_length = length
    await response.prepare(request)
    try:
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
    except (aiohttp.ClientError, TimeoutError):
        # Too late for a 503: cut the connection so the client sees a broken, not a short, body.
        log.warning("upstream broke off", extra={"path": request.path})
        if request.transport is not None:
            request.transport.close()
        return response
    await response.write_eof()
    return response


def _response_headers(upstream: aiohttp.ClientResponse) -> list[tuple[str, str]]:
    found = upstream.headers
    headers = [(name, value) for name in RESPONSE_HEADERS if (value := found.get(name))]
    headers.extend(("Set-Cookie", value) for value in found.getall("Set-Cookie", ()))
    return headers


def _escapes(raw_path: str) -> bool:
    """Dot segments would reach another route of the service (its /metrics, say)."""
    path = raw_path.partition("?")[0]
    if "/." in path:
        return True
    if "%" in path:
        lowered = path.lower()
        return "%2e" in lowered or "%2f" in lowered or "%5c" in lowered
    return "\\" in path
