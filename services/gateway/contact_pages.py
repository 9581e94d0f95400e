"""Kontakt: "Noch Fragen? Kontaktieren Sie uns!" — the form that notifications mails to the
chamber's support, with a copy to a signed-in member's own address. Its messages are notifications' own."""

from aiohttp import web

from services.gateway import upstream
from services.gateway.access import current_session
from services.gateway.rendering import render

CONTACT_PAGE = "/kontakt"
CONTACT_FIELDS = ("name", "email", "betriebsnummer", "betriebsname", "message")


def add_routes(app: web.Application) -> None:
    app.router.add_routes(
        [
            web.get(CONTACT_PAGE, contact_form),
            web.post(CONTACT_PAGE, send),
        ]
    )


async def _profile(request: web.Request) -> dict[str, str]:
    """A signed-in member's name and address, to fill in; nothing if accounts does not answer."""
    if current_session(request) is None:
        return {}
    answer = await upstream.call(request, "GET", "accounts", "/api/v1/accounts/me")
    if not answer.ok:
        return {}
    name = f"{answer.body.get('first_name') or ''} {answer.body.get('last_name') or ''}".strip()
    return {"name": name, "email": str(answer.body.get("email") or "")}


async def contact_form(request: web.Request) -> web.Response:
    return render(request, "kontakt.html", values=await _profile(request), errors={}, message=None)


async def send(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = {name: str(form.get(name, "")).strip() for name in CONTACT_FIELDS}
    answer = await upstream.post_json(request, "notifications", "/api/v1/notifications/contact", values)
    if answer.ok:
        raise web.HTTPSeeOther(f"{CONTACT_PAGE}?hinweis=gesendet")
    return render(request, "kontakt.html", answer.status, values=values, errors=answer.fields, message=answer.message)
