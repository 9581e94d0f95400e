"""Security headers on every answer, the CSRF origin check, and the identity passed upstream."""

from aiohttp import web
from yarl import URL

from runtime import identity
from runtime.errors import ApiError
from runtime.logs import REQUEST_ID_HEADER
from runtime.web import REQUEST_ID
from services.gateway.client_address import ClientAddress
from services.gateway.session_cache import SESSION

DEVICE_COOKIE = web.AppKey("device_cookie", str)
SIGNER = web.AppKey("identity_signer", identity.Signer)
CLIENT_ADDRESS = web.AppKey("client_address", ClientAddress)
_CLIENT = web.RequestKey("client", str)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
CSRF_CODE = "csrf_rejected"
CSRF_MESSAGE = (
    "Die Anfrage wurde aus Sicherheitsgründen abgelehnt. Bitte laden Sie die Seite neu und versuchen Sie es erneut."
)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
STATIC_PREFIX = "/static/"


def install_headers(app: web.Application, public_url: str) -> None:
    headers = {
        "Content-Security-Policy": CSP,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        # Confirmation and reset links carry tokens in the URL.
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    }
    if public_url.startswith("https://"):
        headers["Strict-Transport-Security"] = "max-age=31536000"
    fresh = {**headers, "Cache-Control": "no-store"}
    cached = {**headers, "Cache-Control": "public, max-age=3600"}

    async def add(request: web.Request, response: web.StreamResponse) -> None:
        response.headers.update(cached if request.path.startswith(STATIC_PREFIX) else fresh)

    app.on_response_prepare.append(add)


def csrf_middleware(public_url: str):
    """Unsafe methods only from our own pages: Sec-Fetch-Site, else Origin, else Referer."""
    public_origin = str(URL(public_url).origin())

    @web.middleware
    async def csrf(request: web.Request, handler):
        if request.method in UNSAFE_METHODS and not _same_origin(request, public_origin):
            raise ApiError(403, CSRF_CODE, CSRF_MESSAGE)
        return await handler(request)

    return csrf


def _same_origin(request: web.Request, public_origin: str) -> bool:
    """Only the public origin counts: the Host header is the client's to choose (and behind a
    proxy it names the gateway's internal address), so it proves nothing."""
    headers = request.headers
    if headers.get("Sec-Fetch-Site") == "same-origin":
        return True
    origin = headers.get("Origin")
    if origin is None:
        referer = headers.get("Referer")
        if not referer:
            return False
        try:
            origin = str(URL(referer).origin())
        except ValueError:
            return False
    return origin == public_origin


def resolve_user(request: web.Request) -> str:
    """'<user id>:<session id>' of the session cookie, "" when anonymous."""
    found = request.get(SESSION)
    return found.user.header() if found is not None else ""


def client_address(request: web.Request) -> str:
    """The client as limits count it (services/gateway/client_address.py), once per request."""
    found = request.get(_CLIENT)
    if found is None:
        found = request[_CLIENT] = request.app[CLIENT_ADDRESS](
            request.remote, request.headers.getall("X-Forwarded-For", ())
        )
    return found


def from_trusted_proxy(request: web.Request) -> bool:
    """Only a proxy ops named (PORTAL_TRUSTED_PROXIES) may name the request's id; anyone else's
    X-Request-Id is replaced, so a client cannot plant ids in our logs."""
    return request.app[CLIENT_ADDRESS].is_trusted_proxy(request.remote)


def identity_headers(
    request: web.Request, method: str, path: str, body: bytes = b"", *, anonymous: bool = False
) -> dict[str, str]:
    """The signed identity for one upstream request (`path` with its query, as sent)."""
    who = identity.Identity(user="" if anonymous else resolve_user(request), client=client_address(request))
    headers = request.app[SIGNER].headers(who, method, path, body)
    request_id = request.get(REQUEST_ID)
    if request_id is not None:  # the service logs it, and it rides on the events it causes
        headers[REQUEST_ID_HEADER] = request_id
    # Of the browser's cookies only the device cookie travels on: accounts counts failed logins
    # from a browser the account trusts apart from everyone else's (services/accounts/throttle.py).
    device = request.cookies.get(request.app[DEVICE_COOKIE])
    if device:
        headers["Cookie"] = f"{request.app[DEVICE_COOKIE]}={device}"
    return headers
