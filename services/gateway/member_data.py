"""The member's data in "Mein Konto": "Meine Daten herunterladen" (GET /api/v1/export, joined from
each service's own `/me/export`, so the gateway holds no one's tables) and "Konto löschen"
(accounts erases; user.deleted.v1 tells the others)."""

import asyncio
import json
from datetime import UTC, datetime

from aiohttp import web

from runtime.errors import ApiError
from runtime.sessions import SESSION_END
from services.gateway import upstream
from services.gateway.access import LOGIN_PAGE, login_required
from services.gateway.rendering import render
from services.gateway.session_end import add_cookies, end_session
from services.gateway.sessions import forget_session

EXPORT_PATH = "/api/v1/export"
DELETE_PAGE = "/konto-loeschen"
FILENAME = "kundenportal-daten.json"
# Each service answers for its own tables only (DESIGN.md: one owner per fact).
PARTS = ("accounts", "pins", "notifications")
WRONG_CONFIRMATION = "Bitte bestätigen Sie, dass Ihr Konto gelöscht werden soll."


def add_routes(app: web.Application) -> None:
    app.router.add_routes(
        [
            web.get(EXPORT_PATH, export),
            web.get(DELETE_PAGE, delete_form),
            web.post(DELETE_PAGE, delete_account),
        ]
    )


async def export(request: web.Request) -> web.Response:
    """One JSON document, as a file. Every part or none: a download missing a service's part
    would look complete to the member."""
    answers = await asyncio.gather(
        *(upstream.call(request, "GET", service, f"/api/v1/{service}/me/export") for service in PARTS)
    )
    for answer in answers:
        if not answer.ok:
            if answer.status == 401:
                forget_session(request)
            raise ApiError(answer.status, answer.code or "unavailable", answer.message)
    document = {"exported_at": datetime.now(UTC).isoformat(), **dict(zip(PARTS, (a.body for a in answers)))}
    return web.Response(
        body=json.dumps(document, ensure_ascii=False, indent=2).encode(),
        content_type="application/json",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{FILENAME}"', "Cache-Control": "no-store"},
    )


@login_required
async def delete_form(request: web.Request) -> web.Response:
    return render(request, "account_delete.html", errors={}, message=None)


@login_required
async def delete_account(request: web.Request) -> web.Response:
    form = await request.post()
    if form.get("confirm") != "ja":
        return render(request, "account_delete.html", 422, errors={"confirm": WRONG_CONFIRMATION}, message=None)
    payload = {"password": str(form.get("password", ""))}
    answer = await upstream.call(request, "DELETE", "accounts", "/api/v1/accounts/me", payload)
    if answer.status == 401:
        forget_session(request)
        raise web.HTTPSeeOther(LOGIN_PAGE)
    if not answer.ok:
        return render(request, "account_delete.html", answer.status, errors=answer.fields, message=answer.message)
    response = web.Response(status=303, headers={"Location": "/?hinweis=konto-geloescht"})
    if answer.session == SESSION_END:
        add_cookies(response, await end_session(request))
    return response
