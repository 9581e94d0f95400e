"""HTTP routes of notifications beyond health, readiness and metrics (the contact form, later)."""

from aiohttp import web


def add_routes(app: web.Application) -> None:
    app.router.add_routes([])
