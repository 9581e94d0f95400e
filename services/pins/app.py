"""Composition root of pins."""

from pathlib import Path

from aiohttp import web

from runtime import bus, service
from runtime.web import create_service_app
from services.pins.settings import Settings

SCHEMA = "pins"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings) -> web.Application:
    app = create_service_app(settings.internal_secret.get_secret_value())
    broker = bus.create_broker(settings, "pins")
    app.cleanup_ctx.extend([
        service.postgres(settings.database_url.get_secret_value(), SCHEMA, MIGRATIONS),
        service.nats(broker),
        service.outbox_relay(SCHEMA, broker),
    ])
    return app
