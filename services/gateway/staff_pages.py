"""The staff area's home and its member and business pages (/intern): find a member by e-mail or a
business by Betriebsnummer, see what accounts, pins and notifications hold, and act on it
(staff_member_pages, staff_business_pages). The sign-in's second factor and the audit page are
staff_login_pages' and audit_pages'; the gate for all of them is staff_access."""

from aiohttp import web

from services.gateway import staff_business_pages, staff_member_pages
from services.gateway.staff_access import staff_required
from services.gateway.staff_area import HOME, search_page


def add_routes(app: web.Application) -> None:
    app.router.add_get(HOME, home)
    app.router.add_routes(staff_member_pages.ROUTES)
    app.router.add_routes(staff_business_pages.ROUTES)


@staff_required
async def home(request: web.Request) -> web.Response:
    """Two searches ("Mitglied suchen", "Betrieb suchen") and the way to the audit log."""
    return search_page(request)
