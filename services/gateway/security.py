"""Security headers on every answer, the CSRF origin check, and the identity passed upstream."""

from aiohttp import web
from yarl import URL

from runtime import identity
from runtime.errors import ApiError
from runtime.web import INTERNAL_SECRET
from services.gateway.session_cache import SESSION

DEVICE_COOKIE = web.AppKey("device_cookie", str)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
CSRF_CODE = "csrf_rejected"
CSRF_MESSAGE = (
    "Die Anfrage wurde aus Sicherheitsgründen abgelehnt. "
    "Bitte laden Sie die Seite neu und versuchen Sie es erneut."
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
    return origin == public_origin or origin == f"{request.scheme}://{request.host}"


def resolve_user(request: web.Request) -> str:
    """'<user id>:<session id>' of the session cookie, "" when anonymous."""
    found = request.get(SESSION)
    return found.user.header() if found is not None else ""


def client_address(request: web.Request) -> str:
    return request.remote or ""


def identity_headers(request: web.Request) -> dict[str, str]:
    who = identity.Identity(user=resolve_user(request), client=client_address(request))
    headers = identity.sign(request.app[INTERNAL_SECRET], who)
    # Of the browser's cookies only the device cookie travels on: accounts counts failed logins
    # from a browser the account trusts apart from everyone else's (services/accounts/throttle.py).
    device = request.cookies.get(request.app[DEVICE_COOKIE])
    if device:
        headers["Cookie"] = f"{request.app[DEVICE_COOKIE]}={device}"
    return headers
