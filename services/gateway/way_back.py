"""Back to the page a member asked for before the login: `/login?weiter=/mein-betrieb`.

Only a page of this portal ever: a path of our own (no scheme, no host, no `//` or backslash that
a browser would read as another site), no API or static path, no control characters, of a
sensible length. Anything else is dropped and the login leads to the account as before, so the
parameter can never send a member elsewhere (an open redirect)."""

from urllib.parse import urlencode, urlsplit

from aiohttp import web

PARAM = "weiter"
MAX_LENGTH = 512
_NOT_PAGES = ("/api/", "/static/", "/login", "/abmelden")


def target(value: object) -> str | None:
    """`value` when it names a page of this portal to return to, else None."""
    if not isinstance(value, str) or not value.startswith("/") or len(value) > MAX_LENGTH:
        return None
    if value.startswith("//") or "\\" in value or any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith(_NOT_PAGES):
        return None
    return value


def login_page(request: web.Request, login: str, default: str) -> str:
    """The login page, with the way back to the page asked for when it is one worth returning to:
    a page read (GET), not the account the login leads to anyway."""
    back = target(request.path_qs) if request.method == "GET" else None
    return login if back is None or back == default else f"{login}?{urlencode({PARAM: back})}"
