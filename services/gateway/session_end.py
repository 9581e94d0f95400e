"""Ending the request's own session: at accounts, in this replica's cache, and in the browser.

Used by the logout and by a successful link (DESIGN.md: the linking request's own session is ended
at once, with the answer). Other replicas drop it when session.revoke.v1 arrives."""

from aiohttp import web

from runtime.sessions import cookie_name
from services.gateway import upstream
from services.gateway.session_cache import SESSION
from services.gateway.sessions import KEY, clearing_cookie, forget_session
from services.gateway.settings import SETTINGS

CURRENT_SESSION = "/api/v1/accounts/sessions/current"


async def end_session(request: web.Request) -> list[str]:
    """The Set-Cookie headers the answer must carry: accounts' own, and a clearing cookie of
    ours when accounts' answer does not clear the session cookie (accounts down, session gone).
    From here on the request is anonymous (the header shows "Login")."""
    settings = request.app[SETTINGS]
    cookies: list[str] = []
    if request.get(KEY) is not None:
        answer = await upstream.call(request, "DELETE", "accounts", CURRENT_SESSION)
        cookies.extend(answer.cookies)
        forget_session(request)
    request.pop(SESSION, None)
    prefix = cookie_name(settings.public_url) + "="
    if not any(cookie.startswith(prefix) for cookie in cookies):
        cookies.append(clearing_cookie(settings))
    return cookies


def add_cookies(response: web.StreamResponse, cookies: list[str]) -> web.StreamResponse:
    for cookie in cookies:
        response.headers.add("Set-Cookie", cookie)
    return response


async def end_session_with(request: web.Request, response: web.StreamResponse) -> None:
    """Proxy hook: the (not yet sent) answer ends the session too."""
    add_cookies(response, await end_session(request))
